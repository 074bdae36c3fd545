import type { SubscriptionDefinition } from '../subscriptions/model';
import { describeReference } from './certificateReference';
import {
  isCertificateUnavailableError,
  type CertificateSource,
  type ResolvedCertificate,
} from './certificateSource';
import { certificateProblems, readPublicCertificate } from './publicCertificate';

/**
 * The certificate a definition uses now, checked: a referenced one is resolved (Key Vault's
 * latest version, or the app setting's PEM) and written into `encryptionCertificate` and
 * `encryptionCertificateId`; an inline one is normalised to base64 DER. Either is refused when
 * it is expired, not yet valid, not RSA or not parseable, with a message naming the definition.
 */

export class CertificateRefusedError extends Error {
  constructor(
    readonly key: string,
    message: string,
  ) {
    super(message);
    this.name = 'CertificateRefusedError';
  }
}

export function isCertificateRefusedError(e: unknown): e is CertificateRefusedError {
  return e instanceof CertificateRefusedError;
}

export interface DefinitionWithCertificate {
  readonly definition: SubscriptionDefinition;
  /** The certificate in use, when the definition has one. */
  readonly certificate: Omit<ResolvedCertificate, 'version'> | undefined;
}

export async function withCurrentCertificate(
  definition: SubscriptionDefinition,
  source: CertificateSource | undefined,
  now: Date,
): Promise<DefinitionWithCertificate> {
  const refuse = (what: string, problems: readonly string[]): never => {
    throw new CertificateRefusedError(
      definition.key,
      `Definition ${definition.key}: ${what} ${problems.join('; ')}`,
    );
  };
  const reference = definition.encryptionCertificateSource;
  if (reference !== undefined) {
    if (source === undefined) return refuse(describeReference(reference), ['cannot be read here']);
    let resolved: ResolvedCertificate;
    try {
      resolved = await source.resolve(reference);
    } catch (e) {
      if (!isCertificateUnavailableError(e)) throw e;
      return refuse('encryptionCertificateSource:', [e.message]);
    }
    const problems = certificateProblems(resolved, now);
    if (problems.length > 0) refuse(describeReference(reference), problems);
    return {
      definition: {
        ...definition,
        encryptionCertificate: resolved.base64Der,
        encryptionCertificateId: resolved.id,
      },
      certificate: resolved,
    };
  }
  const inline = definition.encryptionCertificate;
  if (inline === undefined) return { definition, certificate: undefined };
  const read = readPublicCertificate(inline);
  if (!read.ok) return refuse('encryptionCertificate', [read.problem]);
  const problems = certificateProblems(read.certificate, now);
  if (problems.length > 0) refuse('encryptionCertificate', problems);
  return {
    definition: { ...definition, encryptionCertificate: read.certificate.base64Der },
    certificate: {
      ...read.certificate,
      id: definition.encryptionCertificateId ?? read.certificate.thumbprint,
    },
  };
}
