import { applyDecorators, Controller, UseGuards, UsePipes } from '@nestjs/common';
import {
  ApiBadRequestResponse,
  ApiBearerAuth,
  ApiForbiddenResponse,
  ApiTags,
  ApiUnauthorizedResponse,
} from '@nestjs/swagger';
import { HttpAuthGuard } from '@app/auth';
import { ErrorBodyDto } from './error-body.dto';
import { OriginGuard } from './origin.guard';
import { adminValidationPipe } from './validation';

/**
 * A controller of the admin HTTP API under `/api/v1/{path}`: the CSRF origin rule, then authentication
 * (JWT or API key; 401) and the handler's `RequirePermission` (403), DTO validation (400), and the
 * OpenAPI tags and error answers.
 */
export function AdminController(path: string, tag: string): ClassDecorator {
  return applyDecorators(
    Controller(`api/v1/${path}`),
    UseGuards(OriginGuard, HttpAuthGuard),
    UsePipes(adminValidationPipe),
    ApiTags(tag),
    ApiBearerAuth(),
    ApiUnauthorizedResponse({
      type: ErrorBodyDto,
      description: 'Missing or invalid credential (AUTH_FAILED)',
    }),
    ApiForbiddenResponse({
      type: ErrorBodyDto,
      description:
        'The role lacks the permission (FORBIDDEN), or a foreign browser origin (ORIGIN_NOT_ALLOWED)',
    }),
    ApiBadRequestResponse({ type: ErrorBodyDto, description: 'VALIDATION_FAILED, with details' }),
  );
}
