// The import rule of docs/CONTRIBUTING.md as data: the layers of src/, bottom first. A file may import
// only from its own layer or from layers below it; a pure layer never imports an I/O one. The test
// beside this file (imports.test.ts) reads every import in src/ and enforces it, and refuses cycles.
export interface Layer {
  /** Folder under src/ (`platform/snp`), or `.` for the package entry files at the top. */
  readonly folder: string;
  /** Pure layers do no file, network or process I/O and never import a layer that does. */
  readonly pure: boolean;
  /** Rank: imports go to a lower rank, or the same folder. Equal ranks are siblings: no imports between them. */
  readonly rank: number;
}

export const LAYERS: readonly Layer[] = [
  { folder: 'base', pure: true, rank: 0 },
  { folder: 'x509', pure: true, rank: 1 },
  { folder: 'tpm', pure: true, rank: 1 },
  { folder: 'result', pure: true, rank: 2 },
  { folder: 'input', pure: true, rank: 3 },
  { folder: 'policy', pure: true, rank: 4 },
  { folder: 'hcl', pure: true, rank: 5 },
  { folder: 'guest', pure: true, rank: 6 },
  { folder: 'platform/snp', pure: true, rank: 7 },
  { folder: 'platform/tdx', pure: true, rank: 7 },
  { folder: 'verify', pure: true, rank: 8 },
  { folder: 'report', pure: true, rank: 9 },
  { folder: '.', pure: true, rank: 10 },
  { folder: 'io', pure: false, rank: 11 },
  { folder: 'collect', pure: false, rank: 12 },
  { folder: 'sinks', pure: false, rank: 13 },
  { folder: 'remote', pure: false, rank: 14 },
  { folder: 'service', pure: false, rank: 15 },
  { folder: 'extension', pure: false, rank: 16 },
  { folder: 'cli', pure: false, rank: 17 },
];

/** The layer a path under src/ belongs to: the longest folder prefix listed (subfolders belong to their parent). */
export function layerOf(relPath: string): Layer | undefined {
  const dir = relPath.includes('/') ? relPath.slice(0, relPath.lastIndexOf('/')) : '.';
  let best: Layer | undefined;
  for (const l of LAYERS) {
    if (l.folder === '.' ? dir === '.' : dir === l.folder || dir.startsWith(`${l.folder}/`)) {
      if (!best || l.folder.length > best.folder.length) best = l;
    }
  }
  return best;
}
