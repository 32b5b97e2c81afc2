/**
 * The operator's API key (issue #8 puts every route behind `Authorization: Bearer <key>`). It is
 * kept in sessionStorage: it lives as long as the tab, and never reaches disk or other tabs.
 */
const STORAGE_KEY = 'framewire.apiKey';
const listeners = new Set<() => void>();

export function getApiKey(): string | null {
  try {
    return sessionStorage.getItem(STORAGE_KEY);
  } catch {
    return null;
  }
}

export function setApiKey(key: string | null): void {
  try {
    if (key) sessionStorage.setItem(STORAGE_KEY, key);
    else sessionStorage.removeItem(STORAGE_KEY);
  } catch {
    // Storage refused (private mode): the key lasts until reload.
  }
  for (const listener of listeners) listener();
}

export function onApiKeyChange(listener: () => void): () => void {
  listeners.add(listener);
  return () => listeners.delete(listener);
}

/** The headers every request carries: the key, when the operator gave one. */
export function authHeaders(): Record<string, string> {
  const key = getApiKey();
  return key ? { Authorization: `Bearer ${key}` } : {};
}
