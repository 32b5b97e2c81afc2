import { useEffect, useState } from 'react';
import { api } from '../api/api-client';
import type { PipelineInfo } from '../api/types';

/** The pipelines this installation offers (GET /v1/pipelines), loaded once. */
export function usePipelines(): { list: PipelineInfo[]; names: string[]; error: unknown } {
  const [list, setList] = useState<PipelineInfo[]>([]);
  const [error, setError] = useState<unknown>(null);
  useEffect(() => {
    let live = true;
    api.pipelines().then(
      (found) => live && setList(found),
      (e: unknown) => live && setError(e),
    );
    return () => {
      live = false;
    };
  }, []);
  return { list, names: list.map((p) => p.name), error };
}
