/**
 * Looks up local OS accounts by name. Node has no getpwnam(), and LocalShell needs the uid, gid
 * and home of the user it runs commands as, so /etc/passwd is read directly (no NSS: accounts
 * that exist only in LDAP and the like are not found).
 */
import { readFile } from 'node:fs/promises';
import { userInfo } from 'node:os';

/** One account of /etc/passwd. */
export interface OsUser {
  name: string;
  uid: number;
  gid: number;
  home: string;
  shell: string;
}

/** Parses passwd(5) text; malformed lines and comments are skipped. */
export function parsePasswd(text: string): OsUser[] {
  const users: OsUser[] = [];
  for (const line of text.split('\n')) {
    if (line.trim() === '' || line.startsWith('#')) continue;
    const fields = line.split(':');
    if (fields.length < 7) continue;
    const [name, , uidText, gidText, , home, shell] = fields;
    const uid = Number(uidText);
    const gid = Number(gidText);
    if (!name || !Number.isInteger(uid) || !Number.isInteger(gid) || uidText === '' || gidText === '') continue;
    users.push({ name, uid, gid, home: home ?? '/', shell: shell ?? '' });
  }
  return users;
}

/** The account called `name` in `passwdPath` (default /etc/passwd), or undefined. */
export async function lookupUser(name: string, passwdPath = '/etc/passwd'): Promise<OsUser | undefined> {
  const text = await readFile(passwdPath, 'utf8');
  return parsePasswd(text).find((user) => user.name === name);
}

/** The controller process's own user name and uid. */
export function currentUser(): { name: string; uid: number } {
  const info = userInfo();
  return { name: info.username, uid: info.uid };
}
