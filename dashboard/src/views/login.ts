/** The login form: one password (the read or the admin one); or HTTP Basic through the browser. */
import { useState } from 'preact/hooks';
import { login } from '../api';
import { html } from '../html';
import type { Access } from '../types';

export function LoginForm({ onLoggedIn, notice }: { onLoggedIn: (access: Access) => void; notice: string | null }) {
  const [password, setPassword] = useState('');
  const [error, setError] = useState<string | null>(null);
  const [busy, setBusy] = useState(false);
  const submit = async (event: Event): Promise<void> => {
    event.preventDefault();
    setBusy(true);
    const outcome = await login(password);
    setBusy(false);
    if (outcome.ok) onLoggedIn(outcome.access);
    else setError(outcome.reason);
  };
  return html`<main class="login">
    <form onSubmit=${submit} aria-labelledby="login-title">
      <h1 id="login-title">HandyRep</h1>
      ${notice ? html`<p class="notice" role="status">${notice}</p>` : null}
      <label>Password <input type="password" name="password" autocomplete="current-password" required value=${password} onInput=${(e: Event) => setPassword((e.target as HTMLInputElement).value)} autofocus /></label>
      <p class="muted small">The read password shows everything; the admin password can act.</p>
      ${error ? html`<p class="error" role="alert" data-testid="login-error">${error}</p>` : null}
      <button type="submit" disabled=${busy}>Log in</button>
      <p class="small"><a href="/basic-login">Use HTTP Basic authentication instead</a></p>
    </form>
  </main>`;
}
