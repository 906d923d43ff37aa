/**
 * The README's ten lines, runnable: fit y = x0 + 2 x1 x2 with a small ReLU network.
 * Run: npx tsx examples/quickstart.ts
 */
import { Sequential, dense, adam } from "../lib/index.js";

const model = new Sequential([dense(64, { activation: "relu" }), dense(64, { activation: "relu" }), dense(1)], { inputSize: 3, seed: 0 });
model.compile({ loss: "mse", optimizer: adam({ lr: 1e-3 }) });
model.summary();

const x = Array.from({ length: 1000 }, (_, i) => [Math.sin(i), Math.cos(3 * i), Math.sin(7 * i)]);
const y = x.map(([a, b, c]) => [a! + 2 * b! * c!]);
const history = await model.fit(x, y, { epochs: 50, batchSize: 32, validationSplit: 0.2, verbose: 0 });
console.log(`final loss ${history.loss.at(-1)!.toFixed(4)} (first ${history.loss[0]!.toFixed(4)})`);
console.log(model.predict([[0.2, 0.2, 0.2]]).toArray());
