/**
 * Every test ends with one turn of the event loop.
 *
 * A vitest worker reports progress to the main process through calls that time out after 60 s,
 * and it reads the answers only when its event loop turns. Most of our tests are synchronous
 * number crunching, and one file's tests run back to back without a turn in between, so a busy
 * machine could stretch a file past 60 s without a turn and vitest then failed the run with
 * "Timeout calling onTaskUpdate" although every test had passed. With a turn after each test, only
 * a single test longer than 60 s could do that.
 */
import { afterEach } from "vitest";

afterEach(() => new Promise<void>((resolve) => setImmediate(resolve)));
