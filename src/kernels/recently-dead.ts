/**
 * Kernels that ended without their owner asking (exit, crash, culling, a failed restart, death
 * while no daemon watched): kernels.list keeps showing them as `dead` with their exit for a while,
 * so a user who finds their console gone can learn why. A shutdown the user asked for is not kept.
 */
import type { UserAccount } from '../auth/users.js';
import type { Kernel } from './kernel.js';

/** How long a dead kernel stays listed, and how many per user at most. */
export const DEAD_KEEP_MS = 60 * 60 * 1000;
export const DEAD_PER_USER = 10;

/** The recently dead kernels of every user, oldest first. */
export class RecentlyDead {
  private kernels: Kernel[] = [];

  /** Keeps a dead kernel, dropping the owner's oldest beyond DEAD_PER_USER. */
  remember(kernel: Kernel): void {
    this.prune();
    this.kernels.push(kernel);

    const mine = this.kernels.filter((k) => k.ownedBy(kernel.user));
    const excess = new Set(mine.slice(0, Math.max(0, mine.length - DEAD_PER_USER)));
    this.kernels = this.kernels.filter((k) => !excess.has(k));
  }

  /** The user's dead kernels still worth showing. */
  list(user: UserAccount): Kernel[] {
    this.prune();
    return this.kernels.filter((k) => k.ownedBy(user));
  }

  /** Removes and returns the user's dead kernel of that id (a shutdown acknowledges it). */
  take(user: UserAccount, id: string): Kernel | undefined {
    const found = this.kernels.find((k) => k.id === id && k.ownedBy(user));
    if (found !== undefined) this.kernels = this.kernels.filter((k) => k !== found);
    return found;
  }

  private prune(): void {
    const cutoff = Date.now() - DEAD_KEEP_MS;
    this.kernels = this.kernels.filter((k) => Date.parse(k.exit?.at ?? '') >= cutoff);
  }
}
