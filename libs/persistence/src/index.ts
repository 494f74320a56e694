export * from './data-paths';
export * from './datasource-registry';
export * from './persistence.config';
export * from './persistence.module';
export { PERSISTENCE_OPTIONS } from './persistence.module-definition';
export * from './registry/entities';
export * from './registry/tenant-registry.service';
export * from './session/entities';
