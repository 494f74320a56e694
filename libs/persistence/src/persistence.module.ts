import { Global, Module } from '@nestjs/common';
import { PersistenceConfigurableModule } from './persistence.module-definition';
import { ApiKeysRepository } from './registry/api-keys.repository';
import { RegistryCreditRepository } from './registry/credits.repository';
import { MembersRepository } from './registry/members.repository';
import { TenantRegistry } from './registry/tenant-registry.service';
import { SessionStore } from './session/session-store.service';

/** Per-tenant registries (and their repositories) and per-session databases under DATA_DIR. */
@Global()
@Module({
  providers: [TenantRegistry, SessionStore, MembersRepository, ApiKeysRepository, RegistryCreditRepository],
  exports: [TenantRegistry, SessionStore, MembersRepository, ApiKeysRepository, RegistryCreditRepository],
})
export class PersistenceModule extends PersistenceConfigurableModule {}
