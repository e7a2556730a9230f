// Sign-in page: name and password, or the first-start code from the URL.
import { h } from '../ui.js';
import { login, lastSignOutReason } from '../session.js';

export function render(main, { next }) {
  const msg = h('p.form-error', { role: 'alert', id: 'login-error' });
  const user = h('input#username', { name: 'username', autocomplete: 'username', required: true, autocapitalize: 'none', spellcheck: 'false' });
  const pass = h('input#password', { name: 'password', type: 'password', autocomplete: 'current-password', required: true });
  const button = h('button.primary', { type: 'submit' }, 'Sign in');
  const form = h('form.card.login', { 'aria-labelledby': 'login-title', novalidate: true },
    h('h1#login-title', 'Sign in'),
    lastSignOutReason ? h('p.note', lastSignOutReason) : null,
    h('label', { for: 'username' }, 'User name'), user,
    h('label', { for: 'password' }, 'Password'), pass,
    msg, button);
  form.addEventListener('submit', async (e) => {
    e.preventDefault();
    msg.textContent = '';
    if (!user.value || !pass.value) {
      msg.textContent = 'Enter your user name and password.';
      (user.value ? pass : user).focus();
      return;
    }
    button.disabled = true;
    button.textContent = 'Signing in…';
    try {
      await login({ username: user.value, password: pass.value });
      next();
    } catch (err) {
      msg.textContent = err.status === 429
        ? `Too many failed attempts. Try again in ${Math.ceil((err.retryAfter || 60) / 60)} min.`
        : err.status === 401 ? 'Wrong user name or password.' : err.message;
      pass.value = '';
      pass.focus();
    } finally {
      button.disabled = false;
      button.textContent = 'Sign in';
    }
  });
  main.replaceChildren(h('div.center', form));
  user.focus();
}

// #login=CODE: the first-start URL. Exchanged once, then removed from the URL.
export async function exchangeCode(main, code, { next }) {
  history.replaceState(null, '', location.pathname + location.search + '#/');
  main.replaceChildren(h('div.center', h('p.card', { role: 'status' }, 'Signing in…')));
  try {
    await login({ code });
    next();
  } catch (err) {
    render(main, { next });
    main.querySelector('#login-error').textContent =
      'This sign-in link has been used already or is no longer valid. Sign in with a user name and password.';
  }
}
