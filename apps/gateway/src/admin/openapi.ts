import type { INestApplication } from '@nestjs/common';
import type { NextFunction, Request, Response } from 'express';
import { DocumentBuilder, SwaggerModule, type OpenAPIObject } from '@nestjs/swagger';
import { GATEWAY_VERSION } from '../version';
import { AdminModule } from './admin.module';

/** The OpenAPI document of the admin API, generated from its controllers and DTOs. */
export function buildOpenApiDocument(app: INestApplication): OpenAPIObject {
  const config = new DocumentBuilder()
    .setTitle('Diminuendo admin API')
    .setDescription(
      'Credits, usage, API keys and members of the caller’s tenant. Authenticate with an Auth0 access ' +
        'token or an API key `dim_<tenantId>_<secret>` as a bearer credential. Errors are ' +
        '`{ statusCode, code, message }`.',
    )
    .setVersion(GATEWAY_VERSION)
    .addBearerAuth({ type: 'http', scheme: 'bearer', description: 'Auth0 access token or API key' })
    .build();
  return SwaggerModule.createDocument(app, config, { include: [AdminModule] });
}

/**
 * Serves the document at `/api/docs-json` and the interactive page at `/api/docs` (OPENAPI_ENABLED).
 * The page needs its own scripts and styles, so its Content-Security-Policy is relaxed to `self`. The
 * document is generated on the first request for it, not while the gateway starts.
 */
export function setupOpenApi(app: INestApplication, enabled: boolean): void {
  if (!enabled) return;
  app.use('/api/docs', (_req: Request, res: Response, next: NextFunction) => {
    res.setHeader(
      'Content-Security-Policy',
      "default-src 'self'; script-src 'self'; style-src 'self' 'unsafe-inline'; img-src 'self' data:; frame-ancestors 'none'",
    );
    next();
  });
  SwaggerModule.setup('api/docs', app, () => buildOpenApiDocument(app), {
    jsonDocumentUrl: 'api/docs-json',
    yamlDocumentUrl: 'api/docs-yaml',
  });
}
