/**
 * Whether a reclone may RENAME the data folder aside (boot-clone.ts). A rename is only what it
 * seems for a plain folder on its parent's file system:
 *   - a symlink would be renamed itself: the data stays where the link pointed, and the new copy
 *     lands in a plain folder on the parent's file system (not the volume meant for the data);
 *   - a mount point cannot be renamed (EBUSY), or, through a bind mount, the copy would again land
 *     on the wrong file system.
 * Both are refused with their reason before anything is moved; an operator decides (move the data
 * by hand, or point pgdata at the real folder). Pure decision, and the stat that feeds it.
 */
import { lstatSync, readFileSync, statSync } from 'node:fs';
import { dirname, resolve } from 'node:path';

export interface FolderFacts {
  readonly path: string;
  readonly isSymlink: boolean;
  /** st_dev of the folder and of its parent. */
  readonly dev: number;
  readonly parentDev: number;
  /** The folder is listed as a mount point in /proc/self/mountinfo (bind mounts on the same device too). */
  readonly listedMount: boolean;
}

/** Why the folder must not be renamed aside, or null. Pure. */
export function folderMoveProblem(facts: FolderFacts): string | null {
  if (facts.isSymlink) return `${facts.path} is a symlink: a reclone would rename the link, not the data, and copy onto the parent's file system; point pgdata at the real folder or move the data by hand`;
  if (facts.dev !== facts.parentDev || facts.listedMount) return `${facts.path} is a mount point: a reclone cannot rename it aside (the copy would land on another file system); move the data by hand`;
  return null;
}

/** Mount points of /proc/self/mountinfo (field 5, octal escapes such as \040 decoded). Pure. */
export function mountPoints(mountinfo: string): Set<string> {
  const points = new Set<string>();
  for (const line of mountinfo.split('\n')) {
    const field = line.split(' ')[4];
    if (field) points.add(field.replace(/\\([0-7]{3})/g, (_, octal: string) => String.fromCharCode(Number.parseInt(octal, 8))));
  }
  return points;
}

/** The facts of `pgdata` on this host (it exists: the reclone found data in it). */
export function folderFacts(pgdata: string): FolderFacts {
  const path = resolve(pgdata);
  let listed = false;
  try {
    listed = mountPoints(readFileSync('/proc/self/mountinfo', 'utf8')).has(path);
  } catch {
    // no /proc: the device comparison still holds
  }
  return { path, isSymlink: lstatSync(path).isSymbolicLink(), dev: statSync(path).dev, parentDev: statSync(dirname(path)).dev, listedMount: listed };
}
