import { Module } from '@nestjs/common';
import { APP_FILTER } from '@nestjs/core';
import { HttpErrorFilter } from './http-exception.filter';
import { MeController } from './me.controller';

@Module({
  controllers: [MeController],
  providers: [{ provide: APP_FILTER, useClass: HttpErrorFilter }],
})
export class AdminModule {}
