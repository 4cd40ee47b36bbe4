/**
 * A `module:` model: the reference model, wrapped. With the option corrupt=true the first
 * byte of every DMA read comes back flipped, a bug the suite finds. See docs/adapters.md.
 *
 *   npx iommu-conformance run --adapter 'module:docs/examples/wrapped-reference.ts?corrupt=true'
 */
import { createReferenceModel, type Model, wrapModel } from "iommu-conformance";

export async function createModel(options: Record<string, string> = {}): Promise<Model> {
  const reference = await createReferenceModel();
  const corrupt = options.corrupt === "true";
  return wrapModel(reference, {
    async describe() {
      return { ...(await reference.describe()), name: corrupt ? "corrupted-reference" : "wrapped-reference" };
    },
    platform: {
      async dma(request) {
        const result = await reference.platform.dma(request);
        if (corrupt && result.status === "ok" && result.data !== undefined && result.data.length > 0) {
          result.data[0] = (result.data[0] ?? 0) ^ 0xff;
        }
        return result;
      },
    },
  });
}
