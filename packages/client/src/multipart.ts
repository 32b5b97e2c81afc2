/** A file to send: a Blob (in Node, `fs.openAsBlob(path)` reads the file as it is sent, never all at once). */
export interface FilePart {
  name: string;
  blob: Blob;
}

/** A multipart/form-data body whose length is known before it is sent, streamed a chunk at a time. */
export interface MultipartBody {
  contentType: string;
  length: number;
  /** The body; `onProgress(sent, total)` sees each chunk as the request pulls it from here. */
  stream(onProgress?: (sent: number, total: number) => void): ReadableStream<Uint8Array>;
}

const encoder = new TextEncoder();

/**
 * Builds `fields` then `file` as multipart/form-data (RFC 7578). The file is last, so the gateway
 * reads the fields (pipeline, params, priority) before the bytes, and can refuse a bad field without
 * reading the upload. Field values and the file name are quoted; CR, LF and `"` are escaped as a
 * browser's FormData does.
 */
export function multipartBody(fields: Array<[string, string]>, file: FilePart, boundary = randomBoundary()): MultipartBody {
  const head = fields.map(([name, value]) => `--${boundary}\r\nContent-Disposition: form-data; name="${escape(name)}"\r\n\r\n${value}\r\n`).join('');
  const fileHead =
    `--${boundary}\r\nContent-Disposition: form-data; name="file"; filename="${escape(file.name)}"\r\n` +
    `Content-Type: ${file.blob.type || 'application/octet-stream'}\r\n\r\n`;
  const preamble = encoder.encode(head + fileHead);
  const epilogue = encoder.encode(`\r\n--${boundary}--\r\n`);
  const length = preamble.byteLength + file.blob.size + epilogue.byteLength;
  return {
    contentType: `multipart/form-data; boundary=${boundary}`,
    length,
    stream: (onProgress) => {
      let sent = 0;
      let reader: ReadableStreamDefaultReader<Uint8Array> | null = null;
      let stage: 'preamble' | 'file' | 'epilogue' | 'done' = 'preamble';
      const emit = (controller: ReadableStreamDefaultController<Uint8Array>, chunk: Uint8Array) => {
        sent += chunk.byteLength;
        controller.enqueue(chunk);
        onProgress?.(sent, length);
      };
      return new ReadableStream<Uint8Array>({
        async pull(controller) {
          if (stage === 'preamble') {
            stage = 'file';
            reader = file.blob.stream().getReader();
            return emit(controller, preamble);
          }
          if (stage === 'file') {
            const { done, value } = await reader!.read();
            if (!done) return emit(controller, value);
            stage = 'epilogue';
          }
          if (stage === 'epilogue') {
            stage = 'done';
            emit(controller, epilogue);
          }
          controller.close();
        },
        cancel: (reason) => reader?.cancel(reason),
      });
    },
  };
}

function escape(value: string): string {
  return value.replace(/\r/g, '%0D').replace(/\n/g, '%0A').replace(/"/g, '%22');
}

function randomBoundary(): string {
  const bytes = crypto.getRandomValues(new Uint8Array(12));
  return `----framewire${Array.from(bytes, (b) => b.toString(16).padStart(2, '0')).join('')}`;
}
