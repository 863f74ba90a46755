/**
 * Asked for when the API refuses an anonymous read (from a host other than
 * the control plane's). The token stays in this tab's sessionStorage.
 */
import { useState } from 'preact/hooks';
import { getJson, saveToken } from '../api.js';

export function LoginView({ onDone }: { onDone(): void }) {
  const [token, setToken] = useState('');
  const [error, setError] = useState('');
  const submit = async (e: Event) => {
    e.preventDefault();
    saveToken(token.trim());
    try {
      await getJson('/v1/services');
      onDone();
    } catch (err) {
      saveToken('');
      setError((err as Error).message);
    }
  };
  return (
    <form class="login" onSubmit={submit}>
      <h1>Weft dashboard</h1>
      <p>
        From this host the control plane's read API needs a read or operator token (make one with <code>weft token create --kind read</code>
        ).
      </p>
      <label>
        Token{' '}
        <input
          type="password"
          name="token"
          autocomplete="off"
          value={token}
          onInput={(e) => setToken((e.target as HTMLInputElement).value)}
        />
      </label>
      <button type="submit">Open</button>
      {error && (
        <p class="error" data-login-error>
          {error}
        </p>
      )}
    </form>
  );
}
