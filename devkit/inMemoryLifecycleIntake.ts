import { randomUUID } from 'node:crypto';
import {
  splitIntake,
  type IntakeMessage,
  type LifecycleIntakeQueue,
  type ReceivedIntake,
} from '../shared/lifecycle/intakeQueue';

/**
 * The lifecycle intake queue in memory, for chaos runs: the same contract as
 * `QueueLifecycleIntake` (split messages, invisibility while taken, dequeue counts, poison).
 */
export class InMemoryLifecycleIntake implements LifecycleIntakeQueue {
  private readonly messages: {
    id: string;
    body: IntakeMessage;
    dequeueCount: number;
    invisibleUntil: number;
    receipt: string;
  }[] = [];
  readonly poisoned: unknown[] = [];

  constructor(private readonly now: () => number = () => Date.now()) {}

  accept(message: IntakeMessage): Promise<number> {
    const parts = splitIntake(message);
    for (const body of parts) {
      this.messages.push({
        id: randomUUID(),
        body,
        dequeueCount: 0,
        invisibleUntil: 0,
        receipt: '',
      });
    }
    return Promise.resolve(parts.length);
  }

  receive(max: number, visibilitySeconds: number): Promise<readonly ReceivedIntake[]> {
    const now = this.now();
    const taken = this.messages.filter((m) => m.invisibleUntil <= now).slice(0, max);
    return Promise.resolve(
      taken.map((m) => {
        m.dequeueCount++;
        m.invisibleUntil = now + visibilitySeconds * 1000;
        m.receipt = randomUUID();
        return {
          messageId: m.id,
          popReceipt: m.receipt,
          dequeueCount: m.dequeueCount,
          body: m.body,
        };
      }),
    );
  }

  remove(message: ReceivedIntake): Promise<void> {
    const i = this.messages.findIndex(
      (m) => m.id === message.messageId && m.receipt === message.popReceipt,
    );
    if (i >= 0) this.messages.splice(i, 1);
    return Promise.resolve();
  }

  async poison(message: ReceivedIntake): Promise<void> {
    this.poisoned.push(message.body);
    await this.remove(message);
  }

  get size(): number {
    return this.messages.length;
  }
}
