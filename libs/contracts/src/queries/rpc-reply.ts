import { z } from 'zod';

const rpcErrorSchema = z.object({ code: z.string(), message: z.string() });

/** Replies are results, never thrown exceptions: `{ok:true,value}` or `{ok:false,error}`. */
export function rpcReplySchema<T extends z.ZodType>(value: T) {
  return z.discriminatedUnion('ok', [
    z.object({ ok: z.literal(true), value }),
    z.object({ ok: z.literal(false), error: rpcErrorSchema }),
  ]);
}
export type RpcReply<T> = { ok: true; value: T } | { ok: false; error: { code: string; message: string } };
