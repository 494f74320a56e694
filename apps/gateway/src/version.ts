/** The gateway's release version, reported by /health. */
export const GATEWAY_VERSION = '0.1.0';
