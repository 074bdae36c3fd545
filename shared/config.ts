import { z } from 'zod';
import { defaultDeploymentId } from './drift/deploymentMarker';
import { ScheduleError, sweepPeriodMs } from './renewal/sweepSchedule';

/**
 * The app's settings. `loadConfig(env)` is the only reader of `process.env`; everything else
 * receives the frozen `Config` it returns.
 *
 * Each setting is described once here (`settingsCatalog`); the table in docs/settings.md and
 * `local.settings.sample.json` are checked against this catalogue by a test.
 */

export const graphClouds = ['global', 'usgov', 'usgovdod', 'china'] as const;
export type GraphCloud = (typeof graphClouds)[number];

/** The sweep's schedule when SWEEP_SCHEDULE is empty or unusable. */
export const defaultSweepSchedule = '0 */5 * * * *';

export const graphApiVersions = ['v1.0', 'beta'] as const;
export type GraphApiVersion = (typeof graphApiVersions)[number];

export interface SettingDoc {
  /** The app setting (environment variable) name. */
  readonly name: string;
  /** The default as the user would write it, or undefined where there is no safe default. */
  readonly default?: string;
  readonly description: string;
  /** A secret is never logged and never echoed in an error. */
  readonly secret?: boolean;
}

export const settingsCatalog: readonly SettingDoc[] = [
  {
    name: 'AzureWebJobsStorage',
    description:
      'Storage used by the Functions host itself: a connection string, or identity-based through AzureWebJobsStorage__accountName (and __credential, __clientId). When no STORAGE_CONNECTION setting is set, the app keeps its state there too, read the same way as STORAGE_CONNECTION and its __ fields.',
    secret: true,
  },
  {
    name: 'STORAGE_CONNECTION',
    default: 'AzureWebJobsStorage (when no STORAGE_CONNECTION setting is set)',
    description:
      'Where subscription state and the resync queue live, as a connection string (account key or SAS) or UseDevelopmentStorage=true (Azurite). For a managed identity leave it empty and set STORAGE_CONNECTION__accountName (or the two service URIs) instead; a connection string wins over the __ fields.',
    secret: true,
  },
  {
    name: 'STORAGE_CONNECTION__accountName',
    description:
      'Identity-based connection: the storage account name; the table and queue endpoints are https://NAME.table.core.windows.net and https://NAME.queue.core.windows.net (public cloud).',
  },
  {
    name: 'STORAGE_CONNECTION__tableServiceUri',
    description:
      'Identity-based connection: the table service URI, instead of __accountName (sovereign clouds, private endpoints). Set together with __queueServiceUri.',
  },
  {
    name: 'STORAGE_CONNECTION__queueServiceUri',
    description:
      'Identity-based connection: the queue service URI of the same account, instead of __accountName.',
  },
  {
    name: 'STORAGE_CONNECTION__credential',
    default: 'managedidentity',
    description:
      "Identity-based connection: managedidentity, the only value. Storage then uses ManagedIdentityCredential; the app's system-assigned identity unless __clientId names a user-assigned one.",
  },
  {
    name: 'STORAGE_CONNECTION__clientId',
    description:
      'Identity-based connection: client id of the user-assigned managed identity that has the storage roles.',
  },
  {
    name: 'SUBSCRIPTIONS_TABLE',
    default: 'subscriptions',
    description: 'Azure Table that holds the managed subscriptions; created on first use.',
  },
  {
    name: 'RESYNC_QUEUE',
    default: 'subscription-resync',
    description:
      'Storage queue (in the STORAGE_CONNECTION account) that receives a JSON resync message for the owning application whenever notifications may have been lost; created on first use.',
  },
  {
    name: 'GRAPH_CLOUD',
    default: 'global',
    description:
      'Microsoft Graph national cloud: global, usgov (GCC High, L4), usgovdod (DoD, L5) or china (21Vianet). Sets the Graph root, the authority host and the token scope.',
  },
  {
    name: 'GRAPH_BASE_URL',
    description:
      "Overrides only the cloud's Graph root (for a proxy or a test double), for example https://127.0.0.1:8443. HTTPS only.",
  },
  {
    name: 'GRAPH_API_VERSION',
    default: 'v1.0',
    description: 'Graph API version used for subscription calls: v1.0 or beta.',
  },
  {
    name: 'GRAPH_CREDENTIAL',
    default: 'inferred from the GRAPH_ settings that are set',
    description:
      'How the app gets Graph tokens: clientSecret, clientCertificate, managedIdentity (its home tenant only) or managedIdentityFederation (a managed identity as the federated credential of a multi-tenant app registration). When empty: clientSecret if GRAPH_CLIENT_SECRET is set, clientCertificate if a certificate is, managedIdentityFederation if GRAPH_CLIENT_ID and GRAPH_MANAGED_IDENTITY_CLIENT_ID are, else managedIdentity; check-config says which.',
  },
  {
    name: 'GRAPH_TENANT_ID',
    description:
      'Home tenant (GUID) of the app registration, or of the managed identity with managedIdentity. Required unless no GRAPH_ credential setting is set at all.',
  },
  {
    name: 'GRAPH_CLIENT_ID',
    description:
      'Client id of the app registration (clientSecret, clientCertificate, managedIdentityFederation). Not used with managedIdentity.',
  },
  {
    name: 'GRAPH_CLIENT_SECRET',
    description:
      'Client secret of the app registration (clientSecret). Prefer a Key Vault reference.',
    secret: true,
  },
  {
    name: 'GRAPH_CLIENT_CERTIFICATE_PATH',
    description:
      'Path to a PEM file with the certificate and its private key (clientCertificate); or use GRAPH_CLIENT_CERTIFICATE.',
  },
  {
    name: 'GRAPH_CLIENT_CERTIFICATE',
    description:
      'The PEM certificate and private key themselves (clientCertificate), typically a Key Vault reference to a certificate secret.',
    secret: true,
  },
  {
    name: 'GRAPH_MANAGED_IDENTITY_CLIENT_ID',
    default: "the app's system-assigned identity (managedIdentity only)",
    description:
      'Client id of the user-assigned managed identity that gets Graph tokens (managedIdentity) or that the app registration trusts as its federated credential (managedIdentityFederation, required there).',
  },
  {
    name: 'GRAPH_AUTHORITY_HOST',
    default: "the cloud's authority host",
    description: 'Microsoft Entra authority host, for example https://login.microsoftonline.us.',
  },
  {
    name: 'GRAPH_DISABLE_INSTANCE_DISCOVERY',
    default: 'false',
    description:
      'true skips Entra instance discovery; needed for private or test authorities that the public cloud does not know.',
  },
  {
    name: 'LIFECYCLE_NOTIFICATION_URL',
    description:
      'Public HTTPS URL of the lifecycle function, with its key: https://APP.azurewebsites.net/api/lifecycle?code=KEY. Default lifecycleNotificationUrl of new subscriptions.',
    secret: true,
  },
  {
    name: 'SWEEP_SCHEDULE',
    default: '0 */5 * * * *',
    description:
      'NCRONTAB schedule of the sweep timer (six fields, seconds first). Keep it shorter than a quarter of the shortest lifetime in use (presence: 60 minutes).',
  },
  {
    name: 'RENEWAL_MARGIN_MINUTES',
    default: '5',
    description:
      "Renewals ask for the resource's maximum lifetime minus this margin (never under Graph's 45-minute floor).",
  },
  {
    name: 'GRAPH_TENANT_WRITES_PER_20S',
    default: '450',
    description:
      "Subscription writes (create, renew, delete) the sweep sends per tenant in any 20 seconds: 90% of Graph's 500.",
  },
  {
    name: 'GRAPH_APP_WRITES_PER_20S',
    default: '1800',
    description:
      "Subscription writes the sweep sends across all tenants in any 20 seconds: 90% of Graph's 2,000.",
  },
  {
    name: 'SWEEP_CONCURRENCY_PER_TENANT',
    default: '8',
    description: 'Subscriptions of one tenant acted on at the same time by the sweep.',
  },
  {
    name: 'SWEEP_TENANTS_IN_PARALLEL',
    default: '16',
    description:
      "Tenants swept at the same time. The app-wide write pace is kept whatever this is; more tenants than the app budget divided by one tenant's (1,800 / 450 = 4) keep the app budget in use while some tenants finish early.",
  },
  {
    name: 'LIFECYCLE_INLINE_BUDGET_MS',
    default: '2000',
    description:
      'How long the lifecycle endpoint waits for its intake queue write before it answers 503. Graph wants an answer within 3 seconds.',
  },
  {
    name: 'LIFECYCLE_MAX_BODY_BYTES',
    default: '1048576',
    description: 'Largest lifecycle notification body accepted; larger ones get 413.',
  },
  {
    name: 'GRAPH_TIMEOUT_MS',
    default: '30000',
    description:
      'Time budget of one Graph call, its retries and Retry-After waits included; what is left is retried by the next sweep.',
  },
  {
    name: 'DEPLOYMENT_ID',
    default: 'derived from the storage account and table name',
    description:
      'Identifies this deployment on Graph: added as the keeperDeployment query parameter to the lifecycleNotificationUrl of every subscription it creates, so the drift check recognises its own orphans. Not a secret. 1-32 letters, digits or hyphens.',
  },
  {
    name: 'DRIFT_SCHEDULE',
    default: '0 0 * * * *',
    description:
      "NCRONTAB schedule of the drift check, which lists each tenant's subscriptions on Graph to recreate what Graph dropped silently and to find orphans (six fields, seconds first). At most daily.",
  },
  {
    name: 'LIFECYCLE_QUEUE',
    default: 'lifecycle-intake',
    description:
      'Storage queue (in the STORAGE_CONNECTION account) where the lifecycle endpoint stores each notification collection before it answers 202; the lifecycleIntake queue trigger and the sweep act on it. Set it explicitly in the app settings: the trigger binding reads it as %LIFECYCLE_QUEUE%.',
  },
];

export const graphCredentialKinds = [
  'clientSecret',
  'clientCertificate',
  'managedIdentity',
  'managedIdentityFederation',
] as const;
export type GraphCredentialKind = (typeof graphCredentialKinds)[number];

/**
 * Where the state account is and how to reach it: a connection string (secret), or Azure's
 * identity-based convention (`NAME__accountName` or `NAME__tableServiceUri`/`__queueServiceUri`,
 * `__credential`, `__clientId`), which uses a managed identity and nothing else.
 */
export type StorageConnection =
  | {
      readonly kind: 'connectionString';
      /** The setting it came from: STORAGE_CONNECTION or AzureWebJobsStorage. */
      readonly setting: string;
      readonly connectionString: string;
    }
  | {
      readonly kind: 'managedIdentity';
      readonly setting: string;
      readonly tableServiceUri: string;
      readonly queueServiceUri: string;
      /** A user-assigned identity; undefined for the system-assigned one. */
      readonly clientId: string | undefined;
    };

export interface Config {
  readonly storage: {
    readonly connection: StorageConnection;
    readonly table: string;
    /** Queue of resync messages for the owning applications. */
    readonly resyncQueue: string;
    /** Queue of accepted lifecycle notification collections, acted on by the queue trigger. */
    readonly lifecycleQueue: string;
  };
  readonly graph: {
    readonly cloud: GraphCloud;
    readonly baseUrl: string | undefined;
    readonly apiVersion: GraphApiVersion;
  };
  readonly identity: {
    readonly credential: GraphCredentialKind;
    /** Whether GRAPH_CREDENTIAL named the credential or it was inferred from the other settings. */
    readonly credentialChosenBy: 'GRAPH_CREDENTIAL' | 'inferred';
    readonly tenantId: string | undefined;
    /** The app registration's client id. */
    readonly clientId: string | undefined;
    readonly clientSecret: string | undefined;
    readonly clientCertificatePath: string | undefined;
    /** PEM certificate and private key. Secret. */
    readonly clientCertificate: string | undefined;
    /** The user-assigned managed identity (managedIdentity, managedIdentityFederation). */
    readonly managedIdentityClientId: string | undefined;
    readonly authorityHost: string | undefined;
    readonly disableInstanceDiscovery: boolean;
  };
  readonly lifecycleNotificationUrl: string | undefined;
  readonly sweep: {
    readonly schedule: string;
    /** The longest gap between two runs of the schedule. */
    readonly periodMs: number;
    readonly renewalMarginMs: number;
    readonly tenantWritesPer20s: number;
    readonly appWritesPer20s: number;
    readonly concurrencyPerTenant: number;
    readonly tenantsInParallel: number;
  };
  readonly graphTimeoutMs: number;
  readonly lifecycle: {
    readonly inlineBudgetMs: number;
    readonly maxBodyBytes: number;
  };
  readonly drift: {
    /** Marks what this deployment creates on Graph (shared/drift/deploymentMarker.ts). */
    readonly deploymentId: string;
    readonly schedule: string;
    /** The longest gap between two runs of the schedule. */
    readonly periodMs: number;
  };
}

export interface ConfigProblem {
  readonly key: string;
  readonly message: string;
}

/** Thrown by `loadConfig` with every bad setting at once. Never contains a setting's value. */
export class ConfigError extends Error {
  readonly problems: readonly ConfigProblem[];

  constructor(problems: readonly ConfigProblem[]) {
    super(
      `Invalid configuration (${problems.length} problem${problems.length === 1 ? '' : 's'}): ` +
        problems.map((p) => `${p.key}: ${p.message}`).join('; '),
    );
    this.name = 'ConfigError';
    this.problems = problems;
  }
}

export function isConfigError(e: unknown): e is ConfigError {
  return e instanceof ConfigError;
}

/** Empty strings count as unset: local.settings.json files carry every key, most of them empty. */
const optionalText = z.preprocess(
  (v) => (typeof v === 'string' && v.trim() === '' ? undefined : v),
  z.string().trim().optional(),
);

function withText<T extends z.ZodType>(schema: T) {
  return z.preprocess((v) => (typeof v === 'string' && v.trim() === '' ? undefined : v), schema);
}

const httpsUrl = z
  .string()
  .trim()
  .refine(isHttpsUrl, { message: 'must be an absolute https:// URL' });

function isHttpsUrl(value: string): boolean {
  try {
    return new URL(value).protocol === 'https:';
  } catch {
    return false;
  }
}

const clientIdText = z
  .string()
  .trim()
  .regex(/^[0-9a-fA-F]{8}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{12}$/, {
    message: 'must be a client id (GUID)',
  });

const booleanText = z
  .string()
  .trim()
  .toLowerCase()
  .refine((v) => v === 'true' || v === 'false', { message: 'must be true or false' })
  .transform((v) => v === 'true');

const ncrontab = z
  .string()
  .trim()
  .superRefine((v, ctx) => {
    try {
      const period = sweepPeriodMs(v);
      // NOTE: the shortest lifetime is presence's 60 minutes; a sweep must come well within it.
      if (period > 15 * 60_000) {
        ctx.addIssue({ code: 'custom', message: 'must run at least every 15 minutes' });
      }
    } catch (e) {
      if (!(e instanceof ScheduleError)) throw e;
      ctx.addIssue({
        code: 'custom',
        message: `must be an NCRONTAB expression with six fields, e.g. "0 */5 * * * *" (${e.message})`,
      });
    }
  });

/** Hourly by default; the drift check lists Graph, whose list limit is tiny (25 per 20 s per tenant). */
export const defaultDriftSchedule = '0 0 * * * *';
const deploymentIdPattern = /^[A-Za-z0-9][A-Za-z0-9-]{0,31}$/;

const driftSchedule = z
  .string()
  .trim()
  .superRefine((v, ctx) => {
    try {
      sweepPeriodMs(v);
    } catch (e) {
      if (!(e instanceof ScheduleError)) throw e;
      ctx.addIssue({
        code: 'custom',
        message: `must be an NCRONTAB expression with six fields, e.g. "0 0 * * * *" (${e.message})`,
      });
    }
  });

function integerText(min: number, max: number, fallback: number) {
  return withText(
    z.coerce
      .number({ message: 'must be a whole number' })
      .int({ message: 'must be a whole number' })
      .min(min, { message: `must be at least ${min}` })
      .max(max, { message: `must be at most ${max}` })
      .default(fallback),
  );
}

/** A Storage queue name, as Azure Storage accepts it. */
const queueName = z
  .string()
  .trim()
  .regex(/^(?=.{3,63}$)[a-z0-9]+(-[a-z0-9]+)*$/, {
    message:
      'must be 3 to 63 lower-case letters, digits or single hyphens, starting and ending with a letter or digit',
  });

const envSchema = z.object({
  AzureWebJobsStorage: optionalText,
  STORAGE_CONNECTION: optionalText,
  SUBSCRIPTIONS_TABLE: withText(
    z
      .string()
      .trim()
      .regex(/^[A-Za-z][A-Za-z0-9]{2,62}$/, {
        message: 'must be 3 to 63 letters or digits, starting with a letter',
      })
      .default('subscriptions'),
  ),
  RESYNC_QUEUE: withText(queueName.default('subscription-resync')),
  GRAPH_CLOUD: withText(
    z.enum(graphClouds, { message: `must be one of ${graphClouds.join(', ')}` }).default('global'),
  ),
  GRAPH_BASE_URL: withText(httpsUrl.optional()),
  GRAPH_API_VERSION: withText(
    z
      .enum(graphApiVersions, { message: `must be one of ${graphApiVersions.join(', ')}` })
      .default('v1.0'),
  ),
  GRAPH_CREDENTIAL: withText(
    z
      .enum(graphCredentialKinds, { message: `must be one of ${graphCredentialKinds.join(', ')}` })
      .optional(),
  ),
  GRAPH_TENANT_ID: withText(
    z
      .string()
      .trim()
      .regex(/^[A-Za-z0-9.-]+$/, { message: 'must be a tenant GUID or domain name' })
      .optional(),
  ),
  GRAPH_CLIENT_ID: withText(clientIdText.optional()),
  GRAPH_CLIENT_SECRET: optionalText,
  GRAPH_CLIENT_CERTIFICATE_PATH: optionalText,
  GRAPH_CLIENT_CERTIFICATE: withText(
    z
      .string()
      .refine(
        (v) => /-----BEGIN [A-Z ]*PRIVATE KEY-----/.test(v) && v.includes('CERTIFICATE-----'),
        {
          message: 'must be PEM text holding the certificate and its private key',
        },
      )
      .optional(),
  ),
  GRAPH_MANAGED_IDENTITY_CLIENT_ID: withText(clientIdText.optional()),
  GRAPH_AUTHORITY_HOST: withText(httpsUrl.optional()),
  GRAPH_DISABLE_INSTANCE_DISCOVERY: withText(booleanText.default(false)),
  LIFECYCLE_NOTIFICATION_URL: withText(httpsUrl.optional()),
  SWEEP_SCHEDULE: withText(ncrontab.default(defaultSweepSchedule)),
  RENEWAL_MARGIN_MINUTES: integerText(0, 60, 5),
  GRAPH_TENANT_WRITES_PER_20S: integerText(1, 500, 450),
  GRAPH_APP_WRITES_PER_20S: integerText(1, 2000, 1800),
  SWEEP_CONCURRENCY_PER_TENANT: integerText(1, 64, 8),
  SWEEP_TENANTS_IN_PARALLEL: integerText(1, 64, 16),
  GRAPH_TIMEOUT_MS: integerText(1000, 120_000, 30_000),
  LIFECYCLE_INLINE_BUDGET_MS: integerText(0, 2200, 2000),
  LIFECYCLE_MAX_BODY_BYTES: integerText(1024, 16 * 1024 * 1024, 1024 * 1024),
  DEPLOYMENT_ID: withText(
    z
      .string()
      .trim()
      .regex(deploymentIdPattern, { message: 'must be 1 to 32 letters, digits or hyphens' })
      .optional(),
  ),
  DRIFT_SCHEDULE: withText(driftSchedule.default(defaultDriftSchedule)),
  LIFECYCLE_QUEUE: withText(queueName.default('lifecycle-intake')),
});

/** The environment as the Functions host gives it: names to optional strings. */
export type Environment = Readonly<Record<string, string | undefined>>;

const storagePrefixes = ['STORAGE_CONNECTION', 'AzureWebJobsStorage'] as const;
const storageFields = [
  'accountName',
  'tableServiceUri',
  'queueServiceUri',
  'credential',
  'clientId',
] as const;

function isSet(env: Environment, name: string): boolean {
  const v = env[name];
  return typeof v === 'string' && v.trim() !== '';
}

/** The names this app reads: the catalogue and both prefixes' identity-based fields. */
function readSettingNames(): string[] {
  return [
    ...settingsCatalog.map((s) => s.name),
    ...storagePrefixes.flatMap((prefix) => storageFields.map((f) => `${prefix}__${f}`)),
  ].filter((name, i, all) => all.indexOf(name) === i);
}

/**
 * App Service hands a Key Vault reference it could not resolve to the app as its literal text
 * (https://learn.microsoft.com/azure/app-service/app-service-key-vault-references). Such a value
 * is reported by name and never used, least of all as a secret.
 */
export function isUnresolvedKeyVaultReference(value: string | undefined): boolean {
  return value !== undefined && /^\s*@Microsoft\.KeyVault\(/i.test(value);
}

function keyVaultProblems(env: Environment): ConfigProblem[] {
  return readSettingNames()
    .filter((name) => isUnresolvedKeyVaultReference(env[name]))
    .map((key) => ({
      key,
      message:
        "is a Key Vault reference the platform could not resolve (check the vault's access for the app's identity and the secret's name)",
    }));
}

/** The environment with unresolved Key Vault references removed: they are never used. */
function withoutKeyVaultReferences(env: Environment): Environment {
  return Object.fromEntries(
    Object.entries(env).filter(([, v]) => !isUnresolvedKeyVaultReference(v)),
  );
}

/**
 * The state account, from STORAGE_CONNECTION (any setting of that name or prefix) or else from
 * AzureWebJobsStorage, following the Functions host's identity-based connection convention
 * (https://learn.microsoft.com/azure/azure-functions/functions-reference#configure-an-identity-based-connection):
 * a plain value is a connection string and wins; otherwise `__accountName` or the service URIs,
 * with `__credential` `managedidentity` and an optional `__clientId`.
 */
function storageConnectionOf(env: Environment): {
  readonly connection?: StorageConnection;
  readonly problems: ConfigProblem[];
} {
  const prefix =
    storagePrefixes.find(
      (p) => isSet(env, p) || storageFields.some((f) => isSet(env, `${p}__${f}`)),
    ) ?? undefined;
  if (prefix === undefined) {
    return {
      problems: [
        {
          key: 'STORAGE_CONNECTION',
          message:
            'is required (or STORAGE_CONNECTION__accountName, or AzureWebJobsStorage); use UseDevelopmentStorage=true for Azurite',
        },
      ],
    };
  }
  const text = (name: string) => {
    const v = env[name];
    return typeof v === 'string' && v.trim() !== '' ? v.trim() : undefined;
  };
  const plain = text(prefix);
  if (plain !== undefined) {
    if (/^[a-z][a-z0-9+.-]*:\/\//i.test(plain)) {
      return {
        problems: [
          {
            key: prefix,
            message: `must be a connection string; for a service URI with a managed identity use ${prefix}__tableServiceUri and ${prefix}__queueServiceUri`,
          },
        ],
      };
    }
    return {
      connection: { kind: 'connectionString', setting: prefix, connectionString: plain },
      problems: [],
    };
  }
  const problems: ConfigProblem[] = [];
  const credential = text(`${prefix}__credential`);
  if (credential !== undefined && credential.toLowerCase() !== 'managedidentity') {
    problems.push({ key: `${prefix}__credential`, message: 'must be managedidentity' });
  }
  const clientId = text(`${prefix}__clientId`);
  if (clientId !== undefined && !clientIdText.safeParse(clientId).success) {
    problems.push({ key: `${prefix}__clientId`, message: 'must be a client id (GUID)' });
  }
  const account = text(`${prefix}__accountName`);
  if (account !== undefined && !/^[a-z0-9]{3,24}$/.test(account)) {
    problems.push({
      key: `${prefix}__accountName`,
      message: 'must be a storage account name: 3 to 24 lower-case letters or digits',
    });
  }
  const serviceUri = (service: 'table' | 'queue'): string | undefined => {
    const key = `${prefix}__${service}ServiceUri`;
    const value = text(key);
    if (value === undefined) {
      if (account !== undefined) return `https://${account}.${service}.core.windows.net`;
      problems.push({
        key,
        message: `is required for an identity-based connection (or set ${prefix}__accountName)`,
      });
      return undefined;
    }
    if (!isHttpsUrl(value) || new URL(value).search !== '') {
      problems.push({ key, message: 'must be an https:// service URI without a query' });
      return undefined;
    }
    return value.replace(/\/+$/, '');
  };
  const tableServiceUri = serviceUri('table');
  const queueServiceUri = serviceUri('queue');
  if (problems.length > 0 || tableServiceUri === undefined || queueServiceUri === undefined) {
    return { problems };
  }
  return {
    connection: {
      kind: 'managedIdentity',
      setting: prefix,
      tableServiceUri,
      queueServiceUri,
      clientId,
    },
    problems,
  };
}

const graphCredentialSettings = [
  'GRAPH_CREDENTIAL',
  'GRAPH_TENANT_ID',
  'GRAPH_CLIENT_ID',
  'GRAPH_CLIENT_SECRET',
  'GRAPH_CLIENT_CERTIFICATE_PATH',
  'GRAPH_CLIENT_CERTIFICATE',
  'GRAPH_MANAGED_IDENTITY_CLIENT_ID',
] as const;

/** The Graph credential GRAPH_CREDENTIAL names, or the one the other settings imply. */
export function graphCredentialOf(env: Environment): {
  readonly kind: GraphCredentialKind;
  readonly chosenBy: 'GRAPH_CREDENTIAL' | 'inferred';
} {
  const named = graphCredentialKinds.find((k) => k === env.GRAPH_CREDENTIAL?.trim());
  if (named !== undefined) return { kind: named, chosenBy: 'GRAPH_CREDENTIAL' };
  const kind: GraphCredentialKind = isSet(env, 'GRAPH_CLIENT_SECRET')
    ? 'clientSecret'
    : isSet(env, 'GRAPH_CLIENT_CERTIFICATE_PATH') || isSet(env, 'GRAPH_CLIENT_CERTIFICATE')
      ? 'clientCertificate'
      : isSet(env, 'GRAPH_CLIENT_ID') && isSet(env, 'GRAPH_MANAGED_IDENTITY_CLIENT_ID')
        ? 'managedIdentityFederation'
        : 'managedIdentity';
  return { kind, chosenBy: 'inferred' };
}

/**
 * What each Graph credential needs and what it must not be given: a setting that the chosen
 * credential ignores is a mistake waiting to happen (a secret nobody uses, a client id that
 * means something else), so it is named rather than ignored.
 */
function graphCredentialProblems(env: Environment): ConfigProblem[] {
  if (env.GRAPH_CREDENTIAL !== undefined && env.GRAPH_CREDENTIAL.trim() !== '') {
    if (!graphCredentialKinds.some((k) => k === env.GRAPH_CREDENTIAL?.trim())) return [];
  }
  const { kind } = graphCredentialOf(env);
  const nothingSet = graphCredentialSettings.every((name) => !isSet(env, name));
  if (nothingSet) return [];
  const needs: Record<GraphCredentialKind, readonly string[]> = {
    clientSecret: ['GRAPH_TENANT_ID', 'GRAPH_CLIENT_ID', 'GRAPH_CLIENT_SECRET'],
    clientCertificate: ['GRAPH_TENANT_ID', 'GRAPH_CLIENT_ID'],
    managedIdentity: ['GRAPH_TENANT_ID'],
    managedIdentityFederation: [
      'GRAPH_TENANT_ID',
      'GRAPH_CLIENT_ID',
      'GRAPH_MANAGED_IDENTITY_CLIENT_ID',
    ],
  };
  const unused: Record<GraphCredentialKind, readonly string[]> = {
    clientSecret: [
      'GRAPH_CLIENT_CERTIFICATE_PATH',
      'GRAPH_CLIENT_CERTIFICATE',
      'GRAPH_MANAGED_IDENTITY_CLIENT_ID',
    ],
    clientCertificate: ['GRAPH_CLIENT_SECRET', 'GRAPH_MANAGED_IDENTITY_CLIENT_ID'],
    managedIdentity: [
      'GRAPH_CLIENT_ID',
      'GRAPH_CLIENT_SECRET',
      'GRAPH_CLIENT_CERTIFICATE_PATH',
      'GRAPH_CLIENT_CERTIFICATE',
    ],
    managedIdentityFederation: [
      'GRAPH_CLIENT_SECRET',
      'GRAPH_CLIENT_CERTIFICATE_PATH',
      'GRAPH_CLIENT_CERTIFICATE',
    ],
  };
  const problems: ConfigProblem[] = [];
  for (const key of needs[kind]) {
    if (!isSet(env, key))
      problems.push({ key, message: `is required with the ${kind} credential` });
  }
  for (const key of unused[kind]) {
    if (isSet(env, key)) {
      problems.push({ key, message: `is not used by the ${kind} credential; remove it` });
    }
  }
  if (kind === 'clientCertificate') {
    const path = isSet(env, 'GRAPH_CLIENT_CERTIFICATE_PATH');
    const pem = isSet(env, 'GRAPH_CLIENT_CERTIFICATE');
    if (path === pem) {
      problems.push({
        key: 'GRAPH_CLIENT_CERTIFICATE',
        message: path
          ? 'set either GRAPH_CLIENT_CERTIFICATE or GRAPH_CLIENT_CERTIFICATE_PATH, not both'
          : 'or GRAPH_CLIENT_CERTIFICATE_PATH is required with the clientCertificate credential',
      });
    }
  }
  const tenant = env.GRAPH_TENANT_ID?.trim() ?? '';
  if (kind === 'managedIdentity' && tenant !== '' && !clientIdText.safeParse(tenant).success) {
    // NOTE: definitions name their tenant by GUID; the home tenant is compared with them.
    problems.push({
      key: 'GRAPH_TENANT_ID',
      message: 'must be the tenant GUID with the managedIdentity credential',
    });
  }
  return problems;
}

/**
 * Reads and validates every setting. Throws one `ConfigError` naming each bad key and why;
 * the values themselves never appear in the error, since several are secrets.
 */
export function loadConfig(env: Environment = process.env): Config {
  const usable = withoutKeyVaultReferences(env);
  const parsed = envSchema.safeParse(usable);
  const storage = storageConnectionOf(usable);
  const problems = [
    ...keyVaultProblems(env),
    ...(parsed.success
      ? []
      : parsed.error.issues.map((issue) => ({
          key: issue.path.map(String).join('.') || '(environment)',
          message: issue.message,
        }))),
    ...storage.problems,
    // NOTE: on the raw settings: a Key Vault reference still says which credential was meant,
    // and is named once, above, rather than again as missing.
    ...graphCredentialProblems(env),
  ];
  if (!parsed.success || storage.connection === undefined || problems.length > 0) {
    throw new ConfigError(dedupe(problems));
  }
  const s = parsed.data;
  const credential = graphCredentialOf(env);
  return deepFreeze({
    storage: {
      connection: storage.connection,
      table: s.SUBSCRIPTIONS_TABLE,
      resyncQueue: s.RESYNC_QUEUE,
      lifecycleQueue: s.LIFECYCLE_QUEUE,
    },
    graph: { cloud: s.GRAPH_CLOUD, baseUrl: s.GRAPH_BASE_URL, apiVersion: s.GRAPH_API_VERSION },
    identity: {
      credential: credential.kind,
      credentialChosenBy: credential.chosenBy,
      tenantId: s.GRAPH_TENANT_ID,
      clientId: s.GRAPH_CLIENT_ID,
      clientSecret: s.GRAPH_CLIENT_SECRET,
      clientCertificatePath: s.GRAPH_CLIENT_CERTIFICATE_PATH,
      clientCertificate: s.GRAPH_CLIENT_CERTIFICATE,
      managedIdentityClientId: s.GRAPH_MANAGED_IDENTITY_CLIENT_ID,
      authorityHost: s.GRAPH_AUTHORITY_HOST,
      disableInstanceDiscovery: s.GRAPH_DISABLE_INSTANCE_DISCOVERY,
    },
    lifecycleNotificationUrl: s.LIFECYCLE_NOTIFICATION_URL,
    sweep: {
      schedule: s.SWEEP_SCHEDULE,
      periodMs: sweepPeriodMs(s.SWEEP_SCHEDULE),
      renewalMarginMs: s.RENEWAL_MARGIN_MINUTES * 60_000,
      tenantWritesPer20s: s.GRAPH_TENANT_WRITES_PER_20S,
      appWritesPer20s: s.GRAPH_APP_WRITES_PER_20S,
      concurrencyPerTenant: s.SWEEP_CONCURRENCY_PER_TENANT,
      tenantsInParallel: s.SWEEP_TENANTS_IN_PARALLEL,
    },
    graphTimeoutMs: s.GRAPH_TIMEOUT_MS,
    lifecycle: {
      inlineBudgetMs: s.LIFECYCLE_INLINE_BUDGET_MS,
      maxBodyBytes: s.LIFECYCLE_MAX_BODY_BYTES,
    },
    drift: {
      deploymentId:
        s.DEPLOYMENT_ID ??
        defaultDeploymentId(
          // NOTE: the account, never a key: a service URI names it as well as a connection string.
          storage.connection.kind === 'connectionString'
            ? storage.connection.connectionString
            : storage.connection.tableServiceUri,
          s.SUBSCRIPTIONS_TABLE,
        ),
      schedule: s.DRIFT_SCHEDULE,
      periodMs: sweepPeriodMs(s.DRIFT_SCHEDULE),
    },
  });
}

/**
 * The timer's schedule, read while the entry file loads, so it never throws: SWEEP_SCHEDULE when
 * it is a schedule `loadConfig` accepts, else the default. A bad value is still reported: every
 * run then fails with `loadConfig`'s message naming SWEEP_SCHEDULE.
 *
 * NOTE: not the host's binding expression `%SWEEP_SCHEDULE%`: the host resolves it from app
 * settings and, when the setting is missing, refuses to index the timer function, so every
 * deployment would have to set it, and an invalid one would only show in the host's logs.
 */
export function sweepScheduleFor(env: Environment = process.env): string {
  const value = env.SWEEP_SCHEDULE;
  if (value === undefined || value.trim() === '') return defaultSweepSchedule;
  return ncrontab.safeParse(value).success ? value.trim() : defaultSweepSchedule;
}

function dedupe(problems: readonly ConfigProblem[]): ConfigProblem[] {
  const seen = new Set<string>();
  return problems.filter((p) => {
    const id = `${p.key}\u0000${p.message}`;
    if (seen.has(id)) return false;
    seen.add(id);
    return true;
  });
}

function deepFreeze<T extends object>(value: T): T {
  for (const child of Object.values(value)) {
    if (typeof child === 'object' && child !== null) deepFreeze(child as object);
  }
  return Object.freeze(value);
}
