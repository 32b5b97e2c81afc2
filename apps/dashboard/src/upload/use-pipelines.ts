import { useEffect, useState } from 'react';
import type { PipelineInfo } from '@app/contracts';
import { api } from '../api/api-client';
import { onApiKeyChange } from '../api/api-key';

/** The pipelines this installation offers (GET /v1/pipelines), loaded once, and again when the key changes. */
export function usePipelines(): { list: PipelineInfo[]; names: string[]; error: unknown } {
  const [list, setList] = useState<PipelineInfo[]>([]);
  const [error, setError] = useState<unknown>(null);
  useEffect(() => {
    let live = true;
    const load = () =>
      api.pipelines().then(
        (found) => live && (setList(found), setError(null)),
        (e: unknown) => live && setError(e),
      );
    void load();
    const forget = onApiKeyChange(() => void load());
    return () => {
      live = false;
      forget();
    };
  }, []);
  return { list, names: list.map((p) => p.name), error };
}
