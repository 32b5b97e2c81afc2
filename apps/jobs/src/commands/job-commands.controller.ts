import { Controller, Logger, UseInterceptors } from '@nestjs/common';
import { MessagePattern, Payload } from '@nestjs/microservices';
import { cancelJobRequestSchema, JobCommand, jobCommandRequestSchema } from '@app/contracts';
import { RpcCorrelationInterceptor } from '@app/rpc';
import { answer } from '../rpc/rpc-answer.js';
import { JobCommandsService } from './job-commands.service.js';

/** The request/reply face of cancel, redrive and delete: validate, delegate, always answer with a result. */
@Controller()
@UseInterceptors(RpcCorrelationInterceptor)
export class JobCommandsController {
  private readonly logger = new Logger(JobCommandsController.name);

  constructor(private readonly commands: JobCommandsService) {}

  @MessagePattern(JobCommand.Cancel)
  cancel(@Payload() payload: unknown) {
    return answer(this.logger, cancelJobRequestSchema, payload, (req) => this.commands.cancel(req.job_id, req.scope, req.requested_by, req.reason));
  }

  @MessagePattern(JobCommand.Redrive)
  redrive(@Payload() payload: unknown) {
    return answer(this.logger, jobCommandRequestSchema, payload, (req) => this.commands.redrive(req.job_id, req.scope, req.requested_by));
  }

  @MessagePattern(JobCommand.Delete)
  delete(@Payload() payload: unknown) {
    return answer(this.logger, jobCommandRequestSchema, payload, (req) => this.commands.delete(req.job_id, req.scope, req.requested_by));
  }
}
