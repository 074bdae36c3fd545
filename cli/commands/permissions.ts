import { permissionsByTenant, type TenantPermissions } from '../../shared/graph/permissions';
import { tenantOption } from '../argumentValues';
import type { Command } from '../command';
import { formatTable } from '../textTable';
import { listAll } from './list';

/**
 * `permissions`: what each tenant must grant the keeper's app registration (or managed
 * identity) so every stored definition can be created, renewed and reauthorized. Read from the
 * store; nothing is sent to Graph.
 */
export const permissionsCommand: Command = {
  spec: {
    name: 'permissions',
    summary: 'The Graph application permissions the managed definitions need, per tenant',
    description:
      'Prints, for each tenant, the Microsoft Graph application permissions (app roles) the\n' +
      "keeper's credential needs so every stored definition can be created, renewed and\n" +
      'reauthorized: for drive items and lists the ReadWrite permission, which renewals need.\n' +
      'Also names definitions on resources the keeper does not know (no permission known) and\n' +
      'definitions an app-only credential cannot keep alive. Nothing is sent to Graph.',
    positionals: [],
    options: [{ name: 'tenant', value: 'TENANT', description: 'Only this tenant (GUID).' }],
    jsonOutput:
      'an array of { tenantId, applicationPermissions: [{ permission, keys }],\n' +
      '  unknownResources, notKeepable: [{ key, reason }] }.',
    failsWhen: 'a definition cannot be kept alive with an app-only credential',
    examples: ['graph-subs permissions', 'graph-subs permissions --json'],
  },
  prepare(args) {
    const tenantId = tenantOption(args, 'permissions');
    return async (ctx) => {
      const rows = await listAll(ctx.deps.store, { tenantId }, (row) => {
        ctx.io.err(`warning: skipped a row that is not a valid subscription (${row})`);
      });
      const tenants = permissionsByTenant(rows.map((r) => r.definition));
      ctx.print(tenants, () => permissionsText(tenants));
      return tenants.every((t) => t.notKeepable.length === 0) ? 0 : 1;
    };
  },
};

function permissionsText(tenants: readonly TenantPermissions[]): string {
  if (tenants.length === 0) return 'No managed definitions.';
  return tenants
    .map((t) => {
      const lines = [`Tenant ${t.tenantId}`];
      if (t.applicationPermissions.length > 0) {
        lines.push(
          '  Grant these Microsoft Graph application permissions (admin consent):',
          `  ${t.applicationPermissions.map((p) => p.permission).join(', ')}`,
          '',
          formatTable(
            ['PERMISSION', 'NEEDED BY'],
            t.applicationPermissions.map((p) => [p.permission, p.keys.join(', ')]),
          )
            .split('\n')
            .map((l) => `  ${l}`)
            .join('\n'),
        );
      }
      if (t.unknownResources.length > 0) {
        lines.push(
          `  Resources outside the table (no permission known): ${t.unknownResources.join(', ')}`,
        );
      }
      for (const n of t.notKeepable) {
        lines.push(`  Cannot be kept alive app-only: ${n.key}: ${n.reason}`);
      }
      return lines.join('\n');
    })
    .join('\n\n');
}
