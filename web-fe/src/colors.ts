// Group colours for the slot map: distinct hues, readable white-on-colour
// text not needed (slots carry no text). Offline slots are grey.
const palette = [
  '#2563eb', // blue
  '#16a34a', // green
  '#d97706', // amber
  '#9333ea', // purple
  '#dc2626', // red
  '#0891b2', // cyan
  '#db2777', // pink
  '#65a30d', // lime
  '#7c3aed', // violet
  '#ea580c', // orange
  '#0d9488', // teal
  '#4f46e5', // indigo
];

export const OFFLINE_COLOR = '#d4d4d8';

export function groupColor(gid: number): string {
  if (gid <= 0) return OFFLINE_COLOR;
  return palette[(gid - 1) % palette.length];
}
