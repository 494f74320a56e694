import { Global, Module } from '@nestjs/common';
import { PersistenceConfigurableModule } from './persistence.module-definition';
import { TenantRegistry } from './registry/tenant-registry.service';
import { SessionStore } from './session/session-store.service';

/** Per-tenant registries and per-session databases under DATA_DIR. */
@Global()
@Module({
  providers: [TenantRegistry, SessionStore],
  exports: [TenantRegistry, SessionStore],
})
export class PersistenceModule extends PersistenceConfigurableModule {}
