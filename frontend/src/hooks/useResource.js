import { useCallback, useEffect, useRef, useState } from 'react';
import { SessionEndedError } from '../api/client.js';

/**
 * Load data with loading and error states.
 *
 * @param {() => Promise<any>} load the loader (usually an `api.get` call)
 * @param {unknown[]} deps reload when these change
 * @returns {{data: any, error: Error|null, loading: boolean, reload: () => void}}
 *   a SessionEndedError is not reported as `error`: the app is already on
 *   its way to the landing page
 */
export function useResource(load, deps) {
  const [state, setState] = useState({ data: undefined, error: null, loading: true });
  const [generation, setGeneration] = useState(0);
  const loadRef = useRef(load);
  loadRef.current = load;

  useEffect(() => {
    let active = true;
    setState((previous) => ({ ...previous, error: null, loading: true }));
    loadRef
      .current()
      .then((data) => {
        if (active) setState({ data, error: null, loading: false });
      })
      .catch((error) => {
        if (!active) return;
        setState((previous) => ({
          ...previous,
          error: error instanceof SessionEndedError ? null : error,
          loading: false,
        }));
      });
    return () => {
      active = false;
    };
    // eslint-disable-next-line react-hooks/exhaustive-deps
  }, [...deps, generation]);

  const reload = useCallback(() => setGeneration((g) => g + 1), []);
  return { ...state, reload };
}
