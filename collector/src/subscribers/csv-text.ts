/** Writing CSV cells (RFC 4180 quoting), for `subscribers list`, whose output is the import format. */

/** Quote a cell when it holds a comma, quote, CR or LF; double inner quotes. */
export function csvCell(value: string): string {
  return /[",\r\n]/.test(value) ? `"${value.replace(/"/g, '""')}"` : value;
}

export function csvLine(cells: readonly string[]): string {
  return `${cells.map(csvCell).join(',')}\n`;
}
