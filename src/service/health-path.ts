/** Where an instance answers Consul's HTTPS check unless its options say otherwise (`check.path`). */
export const HEALTH_PATH = '/health';
