import 'reflect-metadata';
import { ArgumentMetadata } from '@nestjs/common';
import { GrantDto, LedgerQueryDto } from '../billing/billing.dto';
import { AdminError } from './admin-error';
import { adminValidationPipe } from './validation';

const body = (metatype: new () => object): ArgumentMetadata => ({ type: 'body', metatype });

describe('adminValidationPipe', () => {
  it('turns a valid body into its DTO', async () => {
    const out = await adminValidationPipe.transform({ amount: 5, note: 'x' }, body(GrantDto));
    expect(out).toBeInstanceOf(GrantDto);
    expect(out).toEqual({ amount: 5, note: 'x' });
  });

  it('converts query strings to numbers', async () => {
    const out = await adminValidationPipe.transform(
      { limit: '20', before: '7' },
      { type: 'query', metatype: LedgerQueryDto },
    );
    expect(out).toEqual({ limit: 20, before: 7 });
  });

  it('answers VALIDATION_FAILED with one detail per field', async () => {
    const err = await adminValidationPipe
      .transform({ amount: 1.5, note: 7, extra: true }, body(GrantDto))
      .catch((e: unknown) => e);
    expect(err).toBeInstanceOf(AdminError);
    expect((err as AdminError).code).toBe('VALIDATION_FAILED');
    expect((err as AdminError).status).toBe(400);
    expect((err as AdminError).details!.map((d) => d.field).sort()).toEqual(['amount', 'extra', 'note']);
  });
});
