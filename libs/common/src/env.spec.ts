import 'reflect-metadata';
import { Transform } from 'class-transformer';
import { IsBoolean, IsIn, IsInt, IsOptional, IsString, Max, Min } from 'class-validator';
import { ConfigValidationError, csv, isDevMode, parseBool, validateEnv } from './env';

class TestEnv {
  @IsInt()
  @Min(1)
  @Max(65535)
  TEST_PORT: number = 8080;
  @IsString()
  TEST_NAME: string = 'default-name';
  @Transform(parseBool)
  @IsBoolean()
  TEST_FLAG: boolean = false;
  @Transform(parseBool)
  @IsBoolean()
  TEST_ON: boolean = true;
  @IsIn(['a', 'b'])
  TEST_CHOICE: string = 'a';
  @IsOptional()
  @IsString()
  TEST_OPTIONAL?: string;
}

function problemOf(env: NodeJS.ProcessEnv): ConfigValidationError {
  try {
    validateEnv(TestEnv, env);
  } catch (err) {
    expect(err).toBeInstanceOf(ConfigValidationError);
    return err as ConfigValidationError;
  }
  throw new Error('expected validateEnv to throw');
}

describe('validateEnv', () => {
  it('applies the class defaults when nothing is set', () => {
    expect(validateEnv(TestEnv, {})).toEqual({
      TEST_PORT: 8080,
      TEST_NAME: 'default-name',
      TEST_FLAG: false,
      TEST_ON: true,
      TEST_CHOICE: 'a',
      TEST_OPTIONAL: undefined,
    });
  });

  it('treats empty strings as unset', () => {
    const v = validateEnv(TestEnv, {
      TEST_PORT: '',
      TEST_NAME: '',
      TEST_FLAG: '',
      TEST_ON: '',
      TEST_CHOICE: '',
    });
    expect(v.TEST_PORT).toBe(8080);
    expect(v.TEST_NAME).toBe('default-name');
    expect(v.TEST_FLAG).toBe(false);
    expect(v.TEST_ON).toBe(true);
    expect(v.TEST_CHOICE).toBe('a');
  });

  it('converts numbers and keeps strings', () => {
    const v = validateEnv(TestEnv, { TEST_PORT: '9090', TEST_NAME: '123', TEST_OPTIONAL: 'x' });
    expect(v.TEST_PORT).toBe(9090);
    expect(typeof v.TEST_PORT).toBe('number');
    expect(v.TEST_NAME).toBe('123');
    expect(v.TEST_OPTIONAL).toBe('x');
  });

  it.each([
    ['TRUE', true],
    ['true', true],
    ['1', true],
    ['false', false],
    ['FALSE', false],
    ['0', false],
  ])('reads the boolean %p as %p', (raw, expected) => {
    expect(validateEnv(TestEnv, { TEST_FLAG: raw }).TEST_FLAG).toBe(expected);
    expect(validateEnv(TestEnv, { TEST_ON: raw }).TEST_ON).toBe(expected);
  });

  it('returns only the declared variables', () => {
    const v = validateEnv(TestEnv, { PATH: '/usr/bin', SECRET_THING: 'x', TEST_PORT: '1' });
    expect(Object.keys(v).sort()).toEqual([
      'TEST_CHOICE',
      'TEST_FLAG',
      'TEST_NAME',
      'TEST_ON',
      'TEST_OPTIONAL',
      'TEST_PORT',
    ]);
  });

  it.each([
    ['TEST_PORT', 'abc'],
    ['TEST_PORT', '1.5'],
    ['TEST_PORT', '0'],
    ['TEST_PORT', '70000'],
    ['TEST_FLAG', 'maybe'],
    ['TEST_FLAG', 'yes'],
    ['TEST_CHOICE', 'c'],
  ])('rejects %s=%p with a ConfigValidationError naming the variable', (name, value) => {
    const err = problemOf({ [name]: value });
    expect(err.name).toBe('ConfigValidationError');
    expect(err.message).toContain(name);
    expect(err.problems.length).toBeGreaterThan(0);
    for (const p of err.problems) expect(p.startsWith(`${name}:`)).toBe(true);
  });

  it('reports every bad variable at once', () => {
    const err = problemOf({ TEST_PORT: 'abc', TEST_CHOICE: 'zzz' });
    expect(err.message).toContain('TEST_PORT');
    expect(err.message).toContain('TEST_CHOICE');
  });

  it('does not touch variables it does not declare', () => {
    expect(() => validateEnv(TestEnv, { SOMETHING_ELSE: 'not-a-number' })).not.toThrow();
  });
});

describe('parseBool', () => {
  it.each([
    ['true', true],
    ['TRUE', true],
    [' True ', true],
    ['1', true],
    ['false', false],
    ['False', false],
    ['0', false],
    [true, true],
    [false, false],
  ])('%p → %p', (value, expected) => {
    expect(parseBool({ value })).toBe(expected);
  });

  it.each([['maybe'], ['yes'], ['no'], ['2'], ['']])('leaves %p as it is so validation fails', (value) => {
    expect(parseBool({ value })).toBe(value);
  });

  it('reads the raw string from the source object, not the implicitly converted value', () => {
    expect(parseBool({ value: true, obj: { FLAG: 'false' }, key: 'FLAG' })).toBe(false);
    expect(parseBool({ value: true, obj: { FLAG: 'maybe' }, key: 'FLAG' })).toBe('maybe');
    expect(parseBool({ value: '1', obj: {}, key: 'FLAG' })).toBe(true);
  });
});

describe('isDevMode (spec README "Dev mode")', () => {
  it.each([
    [{}, false],
    [{ NODE_ENV: 'development' }, true],
    [{ NODE_ENV: 'production' }, false],
    [{ NODE_ENV: 'test' }, false],
    [{ NODE_ENV: 'production', DEV_MODE: 'true' }, true],
    [{ NODE_ENV: 'production', DEV_MODE: 'TRUE' }, true],
    [{ NODE_ENV: 'production', DEV_MODE: '1' }, true],
    [{ NODE_ENV: 'production', DEV_MODE: 'false' }, false],
    [{ NODE_ENV: 'production', DEV_MODE: '0' }, false],
    [{ NODE_ENV: 'production', DEV_MODE: 'maybe' }, false],
    [{ NODE_ENV: 'development', DEV_MODE: 'false' }, true],
    [{ DEV_MODE: 'false' }, false],
    [{ DEV_MODE: 'true' }, true],
    [{ NODE_ENV: 'Development' }, false],
  ])('%p → %p', (env, expected) => {
    expect(isDevMode(env)).toBe(expected);
  });
});

describe('csv', () => {
  it('splits, trims and drops empty items', () => {
    expect(csv(' https://a.example , https://b.example,,')).toEqual([
      'https://a.example',
      'https://b.example',
    ]);
    expect(csv('')).toEqual([]);
    expect(csv(undefined)).toEqual([]);
    expect(csv(['x', 1])).toEqual(['x', '1']);
  });
});

describe('isDevMode with an empty NODE_ENV', () => {
  it('treats an empty NODE_ENV as unset (production rules)', () => {
    expect(isDevMode({ NODE_ENV: '' })).toBe(false);
    expect(isDevMode({ NODE_ENV: '', DEV_MODE: 'false' })).toBe(false);
    expect(isDevMode({ NODE_ENV: '', DEV_MODE: 'true' })).toBe(true);
    expect(isDevMode({ NODE_ENV: 'production' })).toBe(false);
  });
});
