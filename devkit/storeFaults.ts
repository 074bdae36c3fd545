import type { TableClient, TableEntity, TransactionAction } from '@azure/data-tables';
import {
  keyReservationPartitionKey,
  registryPartitionKey,
  rowKeys,
} from '../shared/store/subscriptionEntity';

/**
 * Crash injection for the stores, kept out of production code: the in-memory store takes
 * `StoreFaults` directly, and the Table store gets a `TableClient` wrapped by `withWriteFaults`,
 * which calls the hook before each write the store makes (the registry upsert, the key
 * reservation insert, the state-change transaction). A hook that throws is a worker dying just
 * before that write.
 */

export type StoreWriteStep = 'registry' | 'reservation' | 'transaction';

export interface StoreFaults {
  readonly beforeWrite?: (
    step: StoreWriteStep,
    target: { readonly tenantId: string; readonly key: string },
  ) => void | Promise<void>;
}

const subscriptionPrefix = rowKeys.subscription('');
const reservationPrefix = rowKeys.keyReservation('');

function keyOfActions(actions: readonly TransactionAction[]): { tenantId: string; key: string } {
  for (const action of actions) {
    const entity = action[1];
    if (entity.rowKey.startsWith(subscriptionPrefix)) {
      return { tenantId: entity.partitionKey, key: entity.rowKey.slice(subscriptionPrefix.length) };
    }
  }
  return { tenantId: actions[0]?.[1].partitionKey ?? '', key: '' };
}

/** `client` with `faults.beforeWrite` called before the writes the Table store makes. */
export function withWriteFaults(client: TableClient, faults: StoreFaults): TableClient {
  const before = async (
    step: StoreWriteStep,
    target: { tenantId: string; key: string },
  ): Promise<void> => {
    await faults.beforeWrite?.(step, target);
  };
  return new Proxy(client, {
    get(target, property, receiver) {
      if (property === 'submitTransaction') {
        return async (actions: TransactionAction[]) => {
          await before('transaction', keyOfActions(actions));
          return target.submitTransaction(actions);
        };
      }
      if (property === 'upsertEntity') {
        return async (entity: TableEntity, mode?: 'Merge' | 'Replace') => {
          if (entity.partitionKey === registryPartitionKey) {
            await before('registry', { tenantId: entity.rowKey.slice('tenant|'.length), key: '' });
          }
          return target.upsertEntity(entity, mode);
        };
      }
      if (property === 'createEntity') {
        return async (entity: TableEntity) => {
          if (
            entity.partitionKey === keyReservationPartitionKey &&
            entity.rowKey.startsWith(reservationPrefix)
          ) {
            const tenantId = typeof entity.tenantId === 'string' ? entity.tenantId : '';
            await before('reservation', {
              tenantId,
              key: entity.rowKey.slice(reservationPrefix.length),
            });
          }
          return target.createEntity(entity);
        };
      }
      const value: unknown = Reflect.get(target, property, receiver);
      return typeof value === 'function'
        ? (value as (...args: unknown[]) => unknown).bind(target)
        : value;
    },
  });
}
