import { useCallback, useState } from 'react';
import { SessionEndedError } from '../api/client.js';

/**
 * Remove the items of a shown list one at a time (a note, a session) and say how it went.
 *
 * `remove(id, request, words)` marks `id` as `removing`, awaits `request()`, then hides
 * the item (adds `id` to `removed`) and reports `words.done`; a 404 means it was gone
 * already: hidden too, with `words.gone`; any other failure reports `words.failed(error)`.
 * Messages go to `setMessage` (`{kind, text}`, null first); a SessionEndedError is not
 * reported (the app is on its way to the landing page). `reset()` shows every item again.
 *
 * @param {(message: {kind: string, text: string}|null) => void} setMessage
 * @returns {{removing: unknown, removed: Set<unknown>, remove: Function, reset: () => void}}
 */
export function useRemoval(setMessage) {
  const [removing, setRemoving] = useState(null);
  const [removed, setRemoved] = useState(() => new Set());

  const remove = useCallback(
    async (id, request, words) => {
      const hide = () => setRemoved((previous) => new Set(previous).add(id));
      setRemoving(id);
      setMessage(null);
      try {
        await request();
        hide();
        setMessage({ kind: 'success', text: words.done });
      } catch (error) {
        if (error instanceof SessionEndedError) return;
        if (error.status === 404) {
          hide();
          setMessage({ kind: 'info', text: words.gone });
        } else {
          setMessage({ kind: 'error', text: words.failed(error) });
        }
      } finally {
        setRemoving(null);
      }
    },
    [setMessage],
  );
  const reset = useCallback(() => setRemoved(new Set()), []);
  return { removing, removed, remove, reset };
}
