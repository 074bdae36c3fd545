import { z } from 'zod';
import { defaultDeploymentId } from './drift/deploymentMarker';
import { ScheduleError, sweepPeriodMs } from './renewal/sweepSchedule';

/**
 * The app's settings. `loadConfig(env)` is the only reader of `process.env`; everything else
 * receives the frozen `Config` it returns.
 *
 * Each setting is described once here (`settingsCatalog`); the README table and
 * `local.settings.sample.json` are checked against this catalogue by a test.
 */

export const graphClouds = ['global', 'usgov', 'usgovdod', 'china'] as const;
export type GraphCloud = (typeof graphClouds)[number];

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
      'Storage used by the Functions host itself; also the default for STORAGE_CONNECTION.',
    secret: true,
  },
  {
    name: 'STORAGE_CONNECTION',
    default: 'the value of AzureWebJobsStorage',
    description:
      'Where subscription state lives: a connection string, UseDevelopmentStorage=true (Azurite), or a table service URI (https://ACCOUNT.table.core.windows.net) used with DefaultAzureCredential.',
    secret: true,
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
    name: 'AZURE_TENANT_ID',
    description:
      'Home tenant of the app registration, for client secret or certificate credentials (standard @azure/identity variable).',
  },
  {
    name: 'AZURE_CLIENT_ID',
    description:
      'Client id of the app registration or of a user-assigned managed identity (standard @azure/identity variable).',
  },
  {
    name: 'AZURE_CLIENT_SECRET',
    description:
      'Client secret of the app registration, when not using a managed identity or a certificate. Prefer a Key Vault reference.',
    secret: true,
  },
  {
    name: 'AZURE_CLIENT_CERTIFICATE_PATH',
    description: 'Path to a PEM certificate with its private key, used instead of a client secret.',
  },
  {
    name: 'AZURE_AUTHORITY_HOST',
    default: "the cloud's authority host",
    description: 'Microsoft Entra authority host, for example https://login.microsoftonline.us.',
  },
  {
    name: 'AZURE_DISABLE_INSTANCE_DISCOVERY',
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
      'How long the lifecycle endpoint acts on recorded events before it answers 202; the sweep finishes the rest. Graph wants an answer within 3 seconds.',
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
];

export interface Config {
  readonly storage: {
    /** Connection string, `UseDevelopmentStorage=true`, or a table service URI. Secret. */
    readonly connection: string;
    readonly table: string;
    /** Queue of resync messages for the owning applications. */
    readonly resyncQueue: string;
  };
  readonly graph: {
    readonly cloud: GraphCloud;
    readonly baseUrl: string | undefined;
    readonly apiVersion: GraphApiVersion;
  };
  readonly identity: {
    readonly tenantId: string | undefined;
    readonly clientId: string | undefined;
    readonly clientSecret: string | undefined;
    readonly clientCertificatePath: string | undefined;
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
  RESYNC_QUEUE: withText(
    z
      .string()
      .trim()
      .regex(/^(?=.{3,63}$)[a-z0-9]+(-[a-z0-9]+)*$/, {
        message:
          'must be 3 to 63 lower-case letters, digits or single hyphens, starting and ending with a letter or digit',
      })
      .default('subscription-resync'),
  ),
  GRAPH_CLOUD: withText(
    z.enum(graphClouds, { message: `must be one of ${graphClouds.join(', ')}` }).default('global'),
  ),
  GRAPH_BASE_URL: withText(httpsUrl.optional()),
  GRAPH_API_VERSION: withText(
    z
      .enum(graphApiVersions, { message: `must be one of ${graphApiVersions.join(', ')}` })
      .default('v1.0'),
  ),
  AZURE_TENANT_ID: withText(
    z
      .string()
      .trim()
      .regex(/^[A-Za-z0-9.-]+$/, { message: 'must be a tenant GUID or domain name' })
      .optional(),
  ),
  AZURE_CLIENT_ID: withText(
    z
      .string()
      .trim()
      .regex(/^[0-9a-fA-F-]{36}$/, { message: 'must be a client id (GUID)' })
      .optional(),
  ),
  AZURE_CLIENT_SECRET: optionalText,
  AZURE_CLIENT_CERTIFICATE_PATH: optionalText,
  AZURE_AUTHORITY_HOST: withText(httpsUrl.optional()),
  AZURE_DISABLE_INSTANCE_DISCOVERY: withText(booleanText.default(false)),
  LIFECYCLE_NOTIFICATION_URL: withText(httpsUrl.optional()),
  SWEEP_SCHEDULE: withText(ncrontab.default('0 */5 * * * *')),
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
});

/** The environment as the Functions host gives it: names to optional strings. */
export type Environment = Readonly<Record<string, string | undefined>>;

/**
 * Rules across settings. Checked on the raw values, apart from the schema, because zod skips
 * object-level refinements once any field fails, and every bad key must be named at once.
 */
function crossSettingProblems(env: Environment): ConfigProblem[] {
  const set = (name: string) => {
    const v = env[name];
    return typeof v === 'string' && v.trim() !== '';
  };
  const problems: ConfigProblem[] = [];
  if (!set('STORAGE_CONNECTION') && !set('AzureWebJobsStorage')) {
    problems.push({
      key: 'STORAGE_CONNECTION',
      message:
        'is required (or set AzureWebJobsStorage); use UseDevelopmentStorage=true for Azurite',
    });
  }
  const usesAppCredential = set('AZURE_CLIENT_SECRET') || set('AZURE_CLIENT_CERTIFICATE_PATH');
  for (const key of ['AZURE_TENANT_ID', 'AZURE_CLIENT_ID']) {
    if (usesAppCredential && !set(key)) {
      problems.push({
        key,
        message: 'is required with AZURE_CLIENT_SECRET or AZURE_CLIENT_CERTIFICATE_PATH',
      });
    }
  }
  if (set('AZURE_CLIENT_SECRET') && set('AZURE_CLIENT_CERTIFICATE_PATH')) {
    problems.push({
      key: 'AZURE_CLIENT_CERTIFICATE_PATH',
      message: 'set either AZURE_CLIENT_SECRET or AZURE_CLIENT_CERTIFICATE_PATH, not both',
    });
  }
  return problems;
}

/**
 * Reads and validates every setting. Throws one `ConfigError` naming each bad key and why;
 * the values themselves never appear in the error, since several are secrets.
 */
export function loadConfig(env: Environment = process.env): Config {
  const parsed = envSchema.safeParse(env);
  const problems = [
    ...(parsed.success
      ? []
      : parsed.error.issues.map((issue) => ({
          key: issue.path.map(String).join('.') || '(environment)',
          message: issue.message,
        }))),
    ...crossSettingProblems(env),
  ];
  if (!parsed.success || problems.length > 0) throw new ConfigError(dedupe(problems));
  const s = parsed.data;
  const connection = s.STORAGE_CONNECTION ?? s.AzureWebJobsStorage;
  if (connection === undefined) {
    // NOTE: unreachable after crossSettingProblems; kept so the type narrows without a cast.
    throw new ConfigError([{ key: 'STORAGE_CONNECTION', message: 'is required' }]);
  }
  return deepFreeze({
    storage: { connection, table: s.SUBSCRIPTIONS_TABLE, resyncQueue: s.RESYNC_QUEUE },
    graph: { cloud: s.GRAPH_CLOUD, baseUrl: s.GRAPH_BASE_URL, apiVersion: s.GRAPH_API_VERSION },
    identity: {
      tenantId: s.AZURE_TENANT_ID,
      clientId: s.AZURE_CLIENT_ID,
      clientSecret: s.AZURE_CLIENT_SECRET,
      clientCertificatePath: s.AZURE_CLIENT_CERTIFICATE_PATH,
      authorityHost: s.AZURE_AUTHORITY_HOST,
      disableInstanceDiscovery: s.AZURE_DISABLE_INSTANCE_DISCOVERY,
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
      deploymentId: s.DEPLOYMENT_ID ?? defaultDeploymentId(connection, s.SUBSCRIPTIONS_TABLE),
      schedule: s.DRIFT_SCHEDULE,
      periodMs: sweepPeriodMs(s.DRIFT_SCHEDULE),
    },
  });
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
