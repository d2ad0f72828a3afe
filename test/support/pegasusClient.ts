export * from '../../sim/client.js';
