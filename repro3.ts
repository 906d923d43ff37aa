import { Sequential, dense, conv2d, flatten, globalAvgPool2d, maxPool2d } from "./lib/index.js";
const backend = (process.env.B ?? "native") as "native" | "js";
async function t(name: string, f: () => Promise<unknown>) { try { console.log(name, "=>", await f()); } catch (e) { console.log(name, "THREW", (e as Error).constructor.name, (e as Error).message); } }
for (const [H, C, bs] of [[512, 64, 1024], [2048, 64, undefined], [1024, 8, 1024], [181, 2, 2**16]] as const) {
await t(`conv H=${H} C=${C} batch ${bs} predict`, async () => { const m = new Sequential([conv2d(C, 3, { padding: 1 }), globalAvgPool2d(), dense(2)], { inputShape: [1, H, H], seed: 1, backend }); return m.predict({ data: new Float32Array(H*H), shape: [1, 1, H, H] }, bs ? { batchSize: bs } : {}).rows; });
await t(`conv H=${H} C=${C} batch ${bs} evaluate`, async () => { const m = new Sequential([conv2d(C, 3, { padding: 1 }), globalAvgPool2d(), dense(2)], { inputShape: [1, H, H], seed: 1, backend }); m.compile({ loss: "mse", optimizer: "sgd" }); return m.evaluate({ data: new Float32Array(H*H), shape: [1, 1, H, H] }, [[1, 2]], bs ? { batchSize: bs } : {}); });
}
