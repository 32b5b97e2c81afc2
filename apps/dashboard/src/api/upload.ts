import type { JobPriority, JobSubmitted } from '@app/contracts';
import { ApiError, apiErrorOf } from './api-client';
import { authHeaders } from './api-key';

export interface UploadRequest {
  file: File;
  pipeline: string;
  /** JSON text of the params object; empty for none. */
  params: string;
  priority: JobPriority;
}

/**
 * POST /v1/jobs with XMLHttpRequest, whose upload events report bytes sent (fetch has no upload
 * progress). `onProgress` gets a fraction from 0 to 1. Abort with `signal`.
 */
export function uploadJob(request: UploadRequest, onProgress: (fraction: number) => void, signal?: AbortSignal): Promise<JobSubmitted> {
  return new Promise((resolve, reject) => {
    const form = new FormData();
    form.set('pipeline', request.pipeline);
    if (request.params.trim()) form.set('params', request.params);
    form.set('priority', request.priority);
    form.set('file', request.file, request.file.name);
    const xhr = new XMLHttpRequest();
    xhr.open('POST', '/v1/jobs');
    xhr.responseType = 'json';
    xhr.setRequestHeader('Accept', 'application/json');
    for (const [name, value] of Object.entries(authHeaders())) xhr.setRequestHeader(name, value);
    xhr.upload.onprogress = (event) => {
      if (event.lengthComputable && event.total > 0) onProgress(event.loaded / event.total);
    };
    xhr.onload = () => {
      if (xhr.status === 202 || xhr.status === 200) {
        onProgress(1);
        resolve(xhr.response as JobSubmitted);
        return;
      }
      reject(apiErrorOf(xhr.status, xhr.response, `upload failed with HTTP ${xhr.status}`));
    };
    xhr.onerror = () => reject(new ApiError(0, 'NETWORK', 'the upload failed: the gateway did not answer'));
    xhr.onabort = () => reject(new ApiError(0, 'ABORTED', 'the upload was cancelled'));
    signal?.addEventListener('abort', () => xhr.abort(), { once: true });
    xhr.send(form);
  });
}
