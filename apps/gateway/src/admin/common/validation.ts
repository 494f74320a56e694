import { ValidationPipe, type ValidationError } from '@nestjs/common';
import { AdminError, type ValidationDetail } from './admin-error';

/** Flattens class-validator errors (nested ones included) into `{ field, messages }`. */
export function validationDetails(errors: ValidationError[], parent = ''): ValidationDetail[] {
  return errors.flatMap((e) => {
    const field = parent ? `${parent}.${e.property}` : e.property;
    const own = e.constraints ? [{ field, messages: Object.values(e.constraints) }] : [];
    return [...own, ...validationDetails(e.children ?? [], field)];
  });
}

/**
 * Bodies and queries of the admin API: transformed into their DTO classes, unknown fields refused, every
 * failure a 400 `VALIDATION_FAILED` with `details`.
 */
export const adminValidationPipe = new ValidationPipe({
  transform: true,
  whitelist: true,
  forbidNonWhitelisted: true,
  stopAtFirstError: false,
  exceptionFactory: (errors) => {
    const details = validationDetails(errors);
    const summary = details.map((d) => d.messages.join(', ')).join('; ');
    return new AdminError('VALIDATION_FAILED', summary || undefined, details);
  },
});
