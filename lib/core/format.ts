/** Numbers as messages print them. */

/** Bytes in words: "4.9 GiB". */
export function bytesText(n: number): string {
  const units = ["bytes", "KiB", "MiB", "GiB", "TiB", "PiB"];
  let u = 0;
  while (n >= 1024 && u < units.length - 1) (n /= 1024), u++;
  return u === 0 ? `${n} bytes` : `${n.toFixed(1)} ${units[u]}`;
}
