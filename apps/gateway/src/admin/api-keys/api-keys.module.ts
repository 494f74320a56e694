import { Global, Module } from '@nestjs/common';
import { API_KEY_VERIFIER } from '@app/auth';
import { ApiKeysService } from './api-keys.service';

/** Provides the API key verifier that AuthService and HttpAuthGuard pick up under API_KEY_VERIFIER. */
@Global()
@Module({
  providers: [ApiKeysService, { provide: API_KEY_VERIFIER, useExisting: ApiKeysService }],
  exports: [ApiKeysService, API_KEY_VERIFIER],
})
export class ApiKeysModule {}
