export * from './env';
export * from './ids';
export * from './mutex';
export * from './sanitize';
export * from './tracing';
