/** Numbers as messages print them. */

/** Bytes in words: "4.9 GiB". */
export function bytesText(n: number): string {
  const units = ["bytes", "KiB", "MiB", "GiB", "TiB", "PiB"];
  let u = 0;
  while (n >= 1024 && u < units.length - 1) (n /= 1024), u++;
  return u === 0 ? `${n} bytes` : `${n < 1e6 ? n.toFixed(1) : n.toExponential(1)} ${units[u]}`;
}

/** A count in words: "2,147,483,649", or "1.0e+300" past what digits make readable. */
export function countText(n: number): string {
  return n < 1e18 ? n.toLocaleString("en-US") : n.toExponential(1);
}
