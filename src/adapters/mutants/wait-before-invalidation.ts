/**
 * Bug: invalidations are carried out asynchronously and complete late, after the next doorbell
 * (IQT write) has gone by, while wait descriptors complete at once: a wait's status write reports
 * completion before the invalidations queued ahead of it have taken effect, so a DMA issued right
 * after the wait still uses the stale translations.
 * Breaks [VTD-QI-7] (each invalidation completes before the next descriptor, the wait included)
 * and [VTD-QI-12].
 */

import type { TranslationMode } from "../../contract/types.ts";
import { DescriptorType } from "../../spec/descriptor.ts";
import type { InvalidationScope } from "../../spec/invalidation-scope.ts";
import { Reg } from "../../spec/register-offsets.ts";
import type { Mutant } from "./types.ts";
import { wrapCacheInvalidate } from "./wrap.ts";

export const waitBeforeInvalidation: Mutant = {
  id: "wait-before-invalidation",
  title: "wait status written before the earlier invalidations take effect",
  layer: "viommu",
  rules: ["VTD-QI-7", "VTD-QI-12"],
  hooks: {
    platform(vm) {
      // Invalidations not yet carried out; `overtaken`: a wait behind them has completed.
      const pending: Array<{ scope: InvalidationScope; mode: TranslationMode; overtaken: boolean }> = [];
      let apply: (scope: InvalidationScope, mode: TranslationMode) => void = () => undefined;
      wrapCacheInvalidate(vm.viommu.caches, (original, scope, mode) => {
        apply = original;
        pending.push({ scope, mode, overtaken: false });
      });
      const regs = vm.viommu.registers;
      const history = regs.queue.history;
      const write = regs.write.bind(regs);
      regs.write = (off, value, width) => {
        if (off !== Reg.IQT) return write(off, value, width);
        // The late completions land at the next doorbell.
        while (pending[0]?.overtaken) {
          const p = pending.shift() as (typeof pending)[number];
          apply(p.scope, p.mode);
        }
        const last = history.at(-1);
        write(off, value, width);
        const fresh = history.slice(last === undefined ? 0 : history.lastIndexOf(last) + 1);
        if (fresh.some((e) => e.type === DescriptorType.WAIT && e.outcome === "done"))
          for (const p of pending) p.overtaken = true;
      };
    },
  },
};
