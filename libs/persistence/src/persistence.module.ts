import { Global, Module } from '@nestjs/common';
import { PersistenceConfigurableModule } from './persistence.module-definition';
import { TenantRegistry } from './registry/tenant-registry.service';

/** Per-tenant registries (and, with the session store, per-session databases) under DATA_DIR. */
@Global()
@Module({
  providers: [TenantRegistry],
  exports: [TenantRegistry],
})
export class PersistenceModule extends PersistenceConfigurableModule {}
