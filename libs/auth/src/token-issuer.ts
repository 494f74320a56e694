import { plainToInstance } from 'class-transformer';
import { IsNotEmpty, IsOptional, IsString, IsUrl, MaxLength, validateSync } from 'class-validator';

/**
 * A token issuer as an operator or an extension names it (AUTH_EXTRA_ISSUERS, docs/extending.md (d)).
 * `tenantClaim` and `rolesClaim` default to AUTH_TENANT_CLAIM and AUTH_ROLES_CLAIM.
 */
export interface IssuerSpec {
  /** The exact `iss` of its tokens. */
  issuer: string;
  /** Where its RS256 public keys are published (a JWKS document). */
  jwksUri: string;
  /** The `aud` its tokens must carry. */
  audience: string;
  tenantClaim?: string;
  rolesClaim?: string;
}

/** An issuer the gateway trusts, every field resolved. */
export interface TokenIssuer extends Required<IssuerSpec> {
  /** Where it was configured, for logs and messages: `AUTH_URL`, `AUTH_EXTRA_ISSUERS[0]`, an extension. */
  source: string;
}

/** Claim names an issuer does not set itself. */
export interface IssuerDefaults {
  tenantClaim: string;
  rolesClaim: string;
}

/**
 * A provider of an extension's module that names the token issuers it brings (docs/extending.md (d)):
 * given as `issuers` of its `GatewayExtension` and exported by its module.
 */
export interface IssuerSource {
  issuers(): IssuerSpec[];
}

/** The issuers contributed by extensions (an `IssuerSpec[]`), collected by the gateway's bootstrap. */
export const TOKEN_ISSUER_EXTENSIONS = Symbol('TOKEN_ISSUER_EXTENSIONS');

class IssuerSpecEntry {
  @IsString({ message: 'issuer: required, the exact `iss` of the tokens' })
  @IsNotEmpty({ message: 'issuer: required, the exact `iss` of the tokens' })
  @MaxLength(2048, { message: 'issuer: at most 2048 characters' })
  issuer!: string;
  @IsUrl(
    { require_tld: false, require_protocol: true, protocols: ['http', 'https'] },
    { message: 'jwksUri: required, the http(s) URL of the issuer key set' },
  )
  jwksUri!: string;
  @IsString({ message: 'audience: required, so that tokens issued for another API are refused' })
  @IsNotEmpty({ message: 'audience: required, so that tokens issued for another API are refused' })
  audience!: string;
  @IsOptional()
  @IsString({ message: 'tenantClaim: a claim name' })
  @IsNotEmpty({ message: 'tenantClaim: a claim name' })
  tenantClaim?: string;
  @IsOptional()
  @IsString({ message: 'rolesClaim: a claim name' })
  rolesClaim?: string;
}

/**
 * Checks a list of issuers (parsed AUTH_EXTRA_ISSUERS, or an extension's) and resolves the claim
 * names. Every problem names `label[index].field`; an issuer already in `taken` (or twice in the list)
 * is refused, since the `iss` of a token must choose exactly one key set.
 */
export function resolveIssuers(
  raw: unknown,
  label: string,
  defaults: IssuerDefaults,
  taken: readonly TokenIssuer[] = [],
): { issuers: TokenIssuer[]; problems: string[] } {
  if (!Array.isArray(raw)) {
    return { issuers: [], problems: [`${label}: a JSON array of {issuer, jwksUri, audience} objects`] };
  }
  const issuers: TokenIssuer[] = [];
  const problems: string[] = [];
  raw.forEach((item: unknown, i) => {
    const at = `${label}[${i}]`;
    const entryProblems = entryProblemsOf(item, at);
    if (entryProblems.length > 0) {
      problems.push(...entryProblems);
      return;
    }
    const spec = item as IssuerSpec;
    const clash = [...taken, ...issuers].find((t) => t.issuer === spec.issuer);
    if (clash) {
      problems.push(`${at}.issuer: ${JSON.stringify(spec.issuer)} is already configured by ${clash.source}`);
      return;
    }
    issuers.push({
      issuer: spec.issuer,
      jwksUri: spec.jwksUri,
      audience: spec.audience,
      tenantClaim: spec.tenantClaim ?? defaults.tenantClaim,
      rolesClaim: spec.rolesClaim ?? defaults.rolesClaim,
      source: at,
    });
  });
  return { issuers, problems };
}

function entryProblemsOf(item: unknown, at: string): string[] {
  if (typeof item !== 'object' || item === null || Array.isArray(item)) {
    return [`${at}: an object {issuer, jwksUri, audience, tenantClaim?, rolesClaim?}`];
  }
  const errors = validateSync(plainToInstance(IssuerSpecEntry, item), {
    whitelist: true,
    forbidNonWhitelisted: true,
  });
  const messages = errors.flatMap((e) =>
    Object.values(e.constraints ?? {}).map((msg) =>
      msg.startsWith(`${e.property}:`) ? `${at}.${msg}` : `${at}.${e.property}: ${msg}`,
    ),
  );
  return [...new Set(messages)];
}
