import { describe, expect, it } from 'vitest';
import { PEGASUS_ERRORS, isPegasusError } from '../../src/protocol/errorCodes.js';

describe('PEGASUS_ERRORS', () => {
  it('holds every name docs/PROTOCOL.md §3 and docs/DESIGN.md have the proxy send or read', () => {
    for (const name of [
      'ERR_OK', 'ERR_UNKNOWN', 'ERR_TIMEOUT', 'ERR_SERVICE_NOT_ACTIVE', 'ERR_BUSY', 'ERR_FORWARD_TO_OTHERS',
      'ERR_OBJECT_NOT_FOUND', 'ERR_HANDLER_NOT_FOUND', 'ERR_INVALID_PARAMETERS', 'ERR_INVALID_STATE',
      'ERR_INVALID_DATA', 'ERR_BUSY_CREATING', 'ERR_BUSY_DROPPING', 'ERR_UNDER_RECOVERY', 'ERR_NETWORK_FAILURE',
      'ERR_ZOOKEEPER_OPERATION', 'ERR_ACL_DENY',
    ]) {
      expect(isPegasusError(name), name).toBe(true);
    }
  });

  it('keeps the order of Pegasus error_code.h, where the position is the integer code', () => {
    expect(PEGASUS_ERRORS.indexOf('ERR_OK')).toBe(0);
    expect(PEGASUS_ERRORS.indexOf('ERR_OBJECT_NOT_FOUND')).toBe(10);
    expect(PEGASUS_ERRORS.indexOf('ERR_HANDLER_NOT_FOUND')).toBe(11);
    expect(PEGASUS_ERRORS.indexOf('ERR_UNDER_RECOVERY')).toBe(50);
    expect(new Set(PEGASUS_ERRORS).size).toBe(PEGASUS_ERRORS.length);
  });

  it('rejects names Pegasus servers never send', () => {
    // Client-side codes of the Java client and a name that was never in error_code.h.
    for (const name of ['ERR_SESSION_RESET', 'ERR_SYNC_FAILED', 'err_ok', '']) {
      expect(isPegasusError(name), name).toBe(false);
    }
  });
});
