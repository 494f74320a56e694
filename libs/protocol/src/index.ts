export * from './errors';
export * from './events';
export * from './messages';
export * from './roles';
export * from './session';
