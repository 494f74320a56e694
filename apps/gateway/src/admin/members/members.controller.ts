import { Body, Delete, Get, HttpCode, Param, Patch, Post } from '@nestjs/common';
import {
  ApiConflictResponse,
  ApiCreatedResponse,
  ApiNoContentResponse,
  ApiNotFoundResponse,
  ApiOkResponse,
  ApiOperation,
  ApiParam,
} from '@nestjs/swagger';
import { CurrentIdentity, RequirePermission, type AuthIdentity } from '@app/auth';
import { MembersService } from '../../members/members.service';
import { AdminController } from '../common/admin-controller.decorator';
import { ErrorBodyDto } from '../common/error-body.dto';
import { AddMemberDto, MemberAnswerDto, MemberListDto, UpdateMemberDto } from './members.dto';

const USER_ID_PARAM = { name: 'userId', description: 'URL-encoded (Auth0 ids contain `|`)' };

/** Tenant membership over HTTP: the same rules as `manage_members` (MembersService). */
@AdminController('members', 'members')
export class MembersController {
  constructor(private readonly members: MembersService) {}

  @Get()
  @RequirePermission('member:read')
  @ApiOperation({ summary: 'The tenant’s members (member:read)' })
  @ApiOkResponse({ type: MemberListDto })
  async list(@CurrentIdentity() identity: AuthIdentity): Promise<MemberListDto> {
    const { members } = await this.members.list(identity);
    return { members };
  }

  @Post()
  @RequirePermission('member:write')
  @ApiOperation({ summary: 'Add a member, or change the role of an existing one (member:write)' })
  @ApiCreatedResponse({ type: MemberAnswerDto })
  @ApiConflictResponse({ type: ErrorBodyDto, description: 'LAST_OWNER' })
  async add(@CurrentIdentity() identity: AuthIdentity, @Body() body: AddMemberDto): Promise<MemberAnswerDto> {
    return { member: await this.members.add(identity, body.userId, body.role ?? 'member', body.email) };
  }

  @Patch(':userId')
  @RequirePermission('member:write')
  @ApiOperation({ summary: 'Change a member’s role (member:write)' })
  @ApiParam(USER_ID_PARAM)
  @ApiOkResponse({ type: MemberAnswerDto })
  @ApiNotFoundResponse({ type: ErrorBodyDto, description: 'MEMBER_NOT_FOUND' })
  @ApiConflictResponse({ type: ErrorBodyDto, description: 'LAST_OWNER' })
  async update(
    @CurrentIdentity() identity: AuthIdentity,
    @Param('userId') userId: string,
    @Body() body: UpdateMemberDto,
  ): Promise<MemberAnswerDto> {
    return { member: await this.members.updateRole(identity, userId, body.role) };
  }

  @Delete(':userId')
  @HttpCode(204)
  @RequirePermission('member:delete')
  @ApiOperation({ summary: 'Remove a member (member:delete)' })
  @ApiParam(USER_ID_PARAM)
  @ApiNoContentResponse({ description: 'Removed' })
  @ApiNotFoundResponse({ type: ErrorBodyDto, description: 'MEMBER_NOT_FOUND' })
  @ApiConflictResponse({ type: ErrorBodyDto, description: 'LAST_OWNER' })
  remove(@CurrentIdentity() identity: AuthIdentity, @Param('userId') userId: string): Promise<void> {
    return this.members.remove(identity, userId);
  }
}
