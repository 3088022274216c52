package sqlserver

// The global store's procedures (see ownstore.go). Bodies follow the
// prologue, so @clientMajor and @clientMinor are read and checked; {doc} is
// the request document's root, r the column of its root element.

var globalProcs = []storeProc{
	{name: "spGetOperationLogEntryGlobalHelper", helper: `
PROCEDURE __ShardManagement.spGetOperationLogEntryGlobalHelper
	@operationId uniqueidentifier
AS
BEGIN
	SET NOCOUNT ON;
	SELECT 6 AS RowsetKind, OperationId, OperationCode, Data, UndoStartState, ShardVersionRemoves, ShardVersionAdds
	FROM __ShardManagement.OperationsLogGlobal
	WHERE OperationId = @operationId;
END`},

	{name: "spGetAllShardMapsGlobal", root: "GetAllShardMapsGlobal", body: `
	SELECT 1 AS RowsetKind, ShardMapId, Name, ShardMapType, KeyType FROM __ShardManagement.ShardMapsGlobal;
	SET @result = {Success};`},

	{name: "spFindShardMapByNameGlobal", root: "FindShardMapByNameGlobal", body: `
	DECLARE @name nvarchar(50);
	SELECT @name = r.value('(ShardMap/Name)[1]', 'nvarchar(50)') FROM {doc};
	IF @name IS NULL {missing}
	SELECT 1 AS RowsetKind, ShardMapId, Name, ShardMapType, KeyType FROM __ShardManagement.ShardMapsGlobal WHERE Name = @name;
	SET @result = {Success};`},

	{name: "spAddShardMapGlobal", root: "AddShardMapGlobal", body: `
	DECLARE @mapId uniqueidentifier, @name nvarchar(50), @kind int, @keyKind int;
	SELECT {mapFields}
	FROM {doc};
	IF @mapId IS NULL OR @name IS NULL OR @kind IS NULL OR @keyKind IS NULL {missing}
	-- A map with this id or this name (names compare case-insensitively) exists.
	IF EXISTS (SELECT 1 FROM __ShardManagement.ShardMapsGlobal WITH (UPDLOCK, HOLDLOCK) WHERE ShardMapId = @mapId OR Name = @name)
	BEGIN SET @result = {ShardMapExists}; RETURN; END;
	INSERT INTO __ShardManagement.ShardMapsGlobal (ShardMapId, Name, ShardMapType, KeyType) VALUES (@mapId, @name, @kind, @keyKind);
	SET @result = {Success};`},

	{name: "spRemoveShardMapGlobal", root: "RemoveShardMapGlobal", body: `
	DECLARE @mapId uniqueidentifier;
	SELECT @mapId = r.value('(ShardMap/Id)[1]', 'uniqueidentifier') FROM {doc};
	IF @mapId IS NULL {missing}
	IF NOT EXISTS (SELECT 1 FROM __ShardManagement.ShardMapsGlobal WITH (UPDLOCK, HOLDLOCK) WHERE ShardMapId = @mapId)
	BEGIN SET @result = {ShardMapDoesNotExist}; RETURN; END;
	IF EXISTS (SELECT 1 FROM __ShardManagement.ShardsGlobal WHERE ShardMapId = @mapId)
	BEGIN SET @result = {ShardMapHasShards}; RETURN; END;
	DELETE FROM __ShardManagement.ShardMapsGlobal WHERE ShardMapId = @mapId;
	SET @result = {Success};`},

	{name: "spGetAllShardsGlobal", root: "GetAllShardsGlobal", body: `
	DECLARE @mapId uniqueidentifier;
	SELECT @mapId = r.value('(ShardMap/Id)[1]', 'uniqueidentifier') FROM {doc};
	IF @mapId IS NULL {missing}
	IF NOT EXISTS (SELECT 1 FROM __ShardManagement.ShardMapsGlobal WHERE ShardMapId = @mapId)
	BEGIN SET @result = {ShardMapDoesNotExist}; RETURN; END;
	SELECT 2 AS RowsetKind, ShardId, Version, ShardMapId, Protocol, ServerName, Port, DatabaseName, Status
	FROM __ShardManagement.ShardsGlobal
	WHERE ShardMapId = @mapId AND Readable = 1;
	SET @result = {Success};`},

	{name: "spFindShardByLocationGlobal", root: "FindShardByLocationGlobal", body: `
	DECLARE @mapId uniqueidentifier, @protocol int, @server nvarchar(128), @port int, @database nvarchar(128);
	SELECT @mapId = r.value('(ShardMap/Id)[1]', 'uniqueidentifier'),
		@protocol = r.value('(Location/Protocol)[1]', 'int'),
		@server = r.value('(Location/ServerName)[1]', 'nvarchar(128)'),
		@port = r.value('(Location/Port)[1]', 'int'),
		@database = r.value('(Location/DatabaseName)[1]', 'nvarchar(128)')
	FROM {doc};
	IF @mapId IS NULL OR @protocol IS NULL OR @server IS NULL OR @port IS NULL OR @database IS NULL {missing}
	IF NOT EXISTS (SELECT 1 FROM __ShardManagement.ShardMapsGlobal WHERE ShardMapId = @mapId)
	BEGIN SET @result = {ShardMapDoesNotExist}; RETURN; END;
	SELECT 2 AS RowsetKind, ShardId, Version, ShardMapId, Protocol, ServerName, Port, DatabaseName, Status
	FROM __ShardManagement.ShardsGlobal
	WHERE ShardMapId = @mapId AND Readable = 1 AND Protocol = @protocol AND ServerName = @server AND Port = @port AND DatabaseName = @database;
	SET @result = {Success};`},

	// Every location some map has a readable shard at (the library's
	// ShardMapManager.GetDistinctShardLocations, RecoveryManager).
	{name: "spGetAllDistinctShardLocationsGlobal", root: "GetAllDistinctShardLocationsGlobal", body: `
	SELECT DISTINCT 4 AS RowsetKind, Protocol, ServerName, Port, DatabaseName
	FROM __ShardManagement.ShardsGlobal
	WHERE Readable = 1;
	SET @result = {Success};`},

	{name: "spGetAllShardMappingsGlobal", root: "GetAllShardMappingsGlobal", body: `
	-- All readable mappings of a map, or of one of its shards, or those
	-- meeting a range [Range/MinValue, Range/MaxValue).
	DECLARE @mapId uniqueidentifier, @shardId uniqueidentifier, @lo varbinary(128), @hi varbinary(128), @mapType int;
	SELECT @mapId = r.value('(ShardMap/Id)[1]', 'uniqueidentifier'),
		@shardId = r.value('(Shard[@Null="0"]/Id)[1]', 'uniqueidentifier'),
		@lo = CONVERT(varbinary(128), r.value('(Range[@Null="0"]/MinValue)[1]', 'varchar(258)'), 1),
		@hi = CONVERT(varbinary(128), r.value('(Range[@Null="0"]/MaxValue[@Null="0"])[1]', 'varchar(258)'), 1)
	FROM {doc};
	IF @mapId IS NULL {missing}
	{mapType}
	IF @shardId IS NOT NULL AND NOT EXISTS (SELECT 1 FROM __ShardManagement.ShardsGlobal WHERE ShardMapId = @mapId AND ShardId = @shardId AND Readable = 1)
	BEGIN SET @result = {ShardDoesNotExist}; RETURN; END;
	SET @lo = ISNULL(@lo, 0x);
	SELECT 3 AS RowsetKind, {mappingRows}
	WHERE m.ShardMapId = @mapId AND m.Readable = 1 AND (@shardId IS NULL OR m.ShardId = @shardId)
		AND (@hi IS NULL OR m.MinValue < @hi)
		AND ((@mapType = 1 AND m.MinValue >= @lo) OR (@mapType <> 1 AND (m.MaxValue IS NULL OR m.MaxValue > @lo)))
	ORDER BY m.MinValue;
	SET @result = {Success};`},

	{name: "spFindShardMappingByIdGlobal", root: "FindShardMappingByIdGlobal", body: `
	DECLARE @mapId uniqueidentifier, @mappingId uniqueidentifier;
	SELECT @mapId = r.value('(ShardMap/Id)[1]', 'uniqueidentifier'), @mappingId = r.value('(Mapping/Id)[1]', 'uniqueidentifier') FROM {doc};
	IF @mapId IS NULL OR @mappingId IS NULL {missing}
	IF NOT EXISTS (SELECT 1 FROM __ShardManagement.ShardMapsGlobal WHERE ShardMapId = @mapId)
	BEGIN SET @result = {ShardMapDoesNotExist}; RETURN; END;
	SELECT 3 AS RowsetKind, {mappingRows}
	WHERE m.ShardMapId = @mapId AND m.MappingId = @mappingId AND m.Readable = 1;
	IF @@ROWCOUNT = 0
	BEGIN SET @result = {MappingDoesNotExist}; RETURN; END;
	SET @result = {Success};`},

	// The library's lookup of a key's mapping; data-dependent routing
	// reads it when its cache has no mapping for the key.
	findMappingByKey("Global", "TOP (1) ", " AND m.Readable = 1", ""),

	{name: "spFindAndUpdateOperationLogEntryByIdGlobal", root: "FindAndUpdateOperationLogEntryByIdGlobal", body: `
	-- The first step of an undo: record where it starts, and give the entry back.
	DECLARE @operationId uniqueidentifier, @undoStartState int;
	SELECT @operationId = r.value('(@OperationId)[1]', 'uniqueidentifier'), @undoStartState = r.value('(@UndoStartState)[1]', 'int') FROM {doc};
	IF @operationId IS NULL OR @undoStartState IS NULL {missing}
	UPDATE __ShardManagement.OperationsLogGlobal SET UndoStartState = @undoStartState WHERE OperationId = @operationId;
	SET @result = {Success};
	EXEC __ShardManagement.spGetOperationLogEntryGlobalHelper @operationId;`},

	{name: "spBulkOperationShardsGlobalBegin", root: "BulkOperationShardsGlobal", body: `
	-- Log the operation, then check and mark each step's shard, in step
	-- order: removes and updates mark the readable row, adds insert an
	-- unreadable one. The End makes them final or rolls them back.
	DECLARE @operationId uniqueidentifier, @operationCode int, @stepsCount int, @mapId uniqueidentifier;
	SELECT @operationId = r.value('(@OperationId)[1]', 'uniqueidentifier'),
		@operationCode = r.value('(@OperationCode)[1]', 'int'),
		@stepsCount = r.value('(@StepsCount)[1]', 'int'),
		@mapId = r.value('(ShardMap/Id)[1]', 'uniqueidentifier')
	FROM {doc};
	IF @operationId IS NULL OR @operationCode IS NULL OR @stepsCount IS NULL OR @mapId IS NULL {missing}
	IF NOT EXISTS (SELECT 1 FROM __ShardManagement.ShardMapsGlobal WITH (UPDLOCK) WHERE ShardMapId = @mapId)
	BEGIN SET @result = {ShardMapDoesNotExist}; RETURN; END;

	DECLARE @steps TABLE (StepId int NOT NULL, Kind int NULL, ShardId uniqueidentifier NULL, Version uniqueidentifier NULL,
		Protocol int NULL, ServerName nvarchar(128) NULL, Port int NULL, DatabaseName nvarchar(128) NULL, Status int NULL);
	INSERT INTO @steps (StepId, Kind, ShardId, Version, Protocol, ServerName, Port, DatabaseName, Status)
	SELECT st.value('(@Id)[1]', 'int'), st.value('(@Kind)[1]', 'int'),
		st.value('(Shard/Id)[1]', 'uniqueidentifier'), st.value('(Shard/Version)[1]', 'uniqueidentifier'),
		st.value('(Shard/Location/Protocol)[1]', 'int'), st.value('(Shard/Location/ServerName)[1]', 'nvarchar(128)'),
		st.value('(Shard/Location/Port)[1]', 'int'), st.value('(Shard/Location/DatabaseName)[1]', 'nvarchar(128)'),
		st.value('(Shard/Status)[1]', 'int')
	FROM @input.nodes('/BulkOperationShardsGlobal/Steps/Step') AS x(st)
	WHERE st.value('(@Id)[1]', 'int') BETWEEN 1 AND @stepsCount;
	IF (SELECT COUNT(DISTINCT StepId) FROM @steps) <> @stepsCount
		OR EXISTS (SELECT 1 FROM @steps WHERE Kind IS NULL OR ShardId IS NULL OR Version IS NULL
			OR (Kind = 3 AND (Protocol IS NULL OR ServerName IS NULL OR Port IS NULL OR DatabaseName IS NULL OR Status IS NULL)))
	{missing}

	IF NOT EXISTS (SELECT 1 FROM __ShardManagement.OperationsLogGlobal WITH (UPDLOCK, HOLDLOCK) WHERE OperationId = @operationId)
		INSERT INTO __ShardManagement.OperationsLogGlobal (OperationId, OperationCode, Data, ShardVersionRemoves, ShardVersionAdds)
		VALUES (@operationId, @operationCode, @input, NULL, NULL);

	DECLARE @at int = 0, @stepId int, @kind int, @shardId uniqueidentifier, @version uniqueidentifier,
		@protocol int, @server nvarchar(128), @port int, @database nvarchar(128), @status int,
		@current uniqueidentifier, @pendingOp uniqueidentifier;
	WHILE 1 = 1
	BEGIN
		SET @stepId = NULL;
		SELECT TOP (1) @stepId = StepId, @kind = Kind, @shardId = ShardId, @version = Version, @protocol = Protocol,
			@server = ServerName, @port = Port, @database = DatabaseName, @status = Status
		FROM @steps WHERE StepId > @at ORDER BY StepId;
		IF @stepId IS NULL BREAK;
		SET @at = @stepId;
		SELECT @current = NULL, @pendingOp = NULL;
		IF @kind IN (1, 2) -- remove, update
		BEGIN
			SELECT @current = Version, @pendingOp = OperationId
			FROM __ShardManagement.ShardsGlobal WITH (UPDLOCK)
			WHERE ShardMapId = @mapId AND ShardId = @shardId AND Readable = 1;
			IF @pendingOp = @operationId -- begun before: nothing more to do
			BEGIN SET @result = {Success}; RETURN; END;
			IF @pendingOp IS NOT NULL {pending}
			IF @current IS NULL
			BEGIN SET @result = {ShardDoesNotExist}; RETURN; END;
			IF @current <> @version
			BEGIN SET @result = {ShardVersionMismatch}; RETURN; END;
			IF @kind = 1 AND EXISTS (SELECT 1 FROM __ShardManagement.ShardMappingsGlobal WHERE ShardMapId = @mapId AND ShardId = @shardId)
			BEGIN SET @result = {ShardHasMappings}; RETURN; END;
			UPDATE __ShardManagement.ShardsGlobal SET OperationId = @operationId WHERE ShardMapId = @mapId AND ShardId = @shardId;
		END
		ELSE IF @kind = 3 -- add
		BEGIN
			SELECT @current = Version, @pendingOp = OperationId
			FROM __ShardManagement.ShardsGlobal WITH (UPDLOCK, HOLDLOCK)
			WHERE ShardMapId = @mapId AND ShardId = @shardId;
			IF @pendingOp = @operationId
			BEGIN SET @result = {Success}; RETURN; END;
			IF @pendingOp IS NOT NULL {pending}
			IF @current IS NOT NULL
			BEGIN SET @result = {ShardExists}; RETURN; END;
			SELECT @current = Version, @pendingOp = OperationId
			FROM __ShardManagement.ShardsGlobal WITH (UPDLOCK, HOLDLOCK)
			WHERE ShardMapId = @mapId AND Protocol = @protocol AND ServerName = @server AND Port = @port AND DatabaseName = @database;
			IF @pendingOp IS NOT NULL {pending}
			IF @current IS NOT NULL
			BEGIN SET @result = {ShardLocationExists}; RETURN; END;
			INSERT INTO __ShardManagement.ShardsGlobal (ShardId, Readable, Version, ShardMapId, OperationId, Protocol, ServerName, Port, DatabaseName, Status)
			VALUES (@shardId, 0, @version, @mapId, @operationId, @protocol, @server, @port, @database, @status);
		END;
	END;
	SET @result = {Success};`},

	{name: "spBulkOperationShardsGlobalEnd", root: "BulkOperationShardsGlobal", body: `
	-- Undo = 0: removes delete their rows, updates write the new version and
	-- status, adds become readable. Undo = 1: marks are cleared and adds
	-- deleted. Only rows marked by this operation are touched, so running
	-- the End twice changes nothing the second time. The log row goes.
	DECLARE @operationId uniqueidentifier, @operationCode int, @undo int, @stepsCount int, @mapId uniqueidentifier;
	SELECT @operationId = r.value('(@OperationId)[1]', 'uniqueidentifier'),
		@operationCode = r.value('(@OperationCode)[1]', 'int'),
		@undo = r.value('(@Undo)[1]', 'int'),
		@stepsCount = r.value('(@StepsCount)[1]', 'int'),
		@mapId = r.value('(ShardMap/Id)[1]', 'uniqueidentifier')
	FROM {doc};
	IF @operationId IS NULL OR @operationCode IS NULL OR @undo IS NULL OR @stepsCount IS NULL OR @mapId IS NULL {missing}
	IF NOT EXISTS (SELECT 1 FROM __ShardManagement.ShardMapsGlobal WITH (UPDLOCK) WHERE ShardMapId = @mapId)
	BEGIN SET @result = {ShardMapDoesNotExist}; RETURN; END;

	DECLARE @steps TABLE (StepId int NOT NULL, Kind int NULL, ShardId uniqueidentifier NULL, NewVersion uniqueidentifier NULL, NewStatus int NULL);
	INSERT INTO @steps (StepId, Kind, ShardId, NewVersion, NewStatus)
	SELECT st.value('(@Id)[1]', 'int'), st.value('(@Kind)[1]', 'int'), st.value('(Shard/Id)[1]', 'uniqueidentifier'),
		st.value('(Update/Shard/Version)[1]', 'uniqueidentifier'), st.value('(Update/Shard/Status)[1]', 'int')
	FROM @input.nodes('/BulkOperationShardsGlobal/Steps/Step') AS x(st)
	WHERE st.value('(@Id)[1]', 'int') BETWEEN 1 AND @stepsCount;
	IF (SELECT COUNT(DISTINCT StepId) FROM @steps) <> @stepsCount
		OR EXISTS (SELECT 1 FROM @steps WHERE Kind IS NULL OR ShardId IS NULL
			OR (@undo = 0 AND Kind = 2 AND (NewVersion IS NULL OR NewStatus IS NULL)))
	{missing}

	IF @undo = 1
	BEGIN
		UPDATE g SET OperationId = NULL
		FROM __ShardManagement.ShardsGlobal AS g JOIN @steps AS s ON s.ShardId = g.ShardId
		WHERE g.ShardMapId = @mapId AND g.OperationId = @operationId AND s.Kind IN (1, 2);
		DELETE g
		FROM __ShardManagement.ShardsGlobal AS g JOIN @steps AS s ON s.ShardId = g.ShardId
		WHERE g.ShardMapId = @mapId AND g.OperationId = @operationId AND s.Kind = 3;
	END
	ELSE
	BEGIN
		DELETE g
		FROM __ShardManagement.ShardsGlobal AS g JOIN @steps AS s ON s.ShardId = g.ShardId
		WHERE g.ShardMapId = @mapId AND g.OperationId = @operationId AND s.Kind = 1;
		UPDATE g SET Version = s.NewVersion, Status = s.NewStatus, OperationId = NULL
		FROM __ShardManagement.ShardsGlobal AS g JOIN @steps AS s ON s.ShardId = g.ShardId
		WHERE g.ShardMapId = @mapId AND g.OperationId = @operationId AND s.Kind = 2;
		UPDATE g SET Readable = 1, OperationId = NULL
		FROM __ShardManagement.ShardsGlobal AS g JOIN @steps AS s ON s.ShardId = g.ShardId
		WHERE g.ShardMapId = @mapId AND g.OperationId = @operationId AND s.Kind = 3;
	END;
	DELETE FROM __ShardManagement.OperationsLogGlobal WHERE OperationId = @operationId;
	SET @result = {Success};`},

	{name: "spBulkOperationShardMappingsGlobalBegin", root: "BulkOperationShardMappingsGlobal", body: `
	-- Mark the source and target shards and the mappings the steps remove
	-- or update, insert the added mappings unreadable, and log the
	-- operation with the shards' versions before it.
	DECLARE @operationId uniqueidentifier, @operationCode int, @stepsCount int, @mapId uniqueidentifier,
		@removesShard uniqueidentifier, @addsShard uniqueidentifier, @mapType int;
	SELECT @operationId = r.value('(@OperationId)[1]', 'uniqueidentifier'),
		@operationCode = r.value('(@OperationCode)[1]', 'int'),
		@stepsCount = r.value('(@StepsCount)[1]', 'int'),
		@mapId = r.value('(ShardMap/Id)[1]', 'uniqueidentifier'),
		@removesShard = r.value('(Removes/Shard/Id)[1]', 'uniqueidentifier'),
		@addsShard = r.value('(Adds/Shard/Id)[1]', 'uniqueidentifier')
	FROM {doc};
	IF @operationId IS NULL OR @operationCode IS NULL OR @stepsCount IS NULL OR @mapId IS NULL {missing}
	SELECT @mapType = ShardMapType FROM __ShardManagement.ShardMapsGlobal WITH (UPDLOCK) WHERE ShardMapId = @mapId;
	IF @mapType IS NULL
	BEGIN SET @result = {ShardMapDoesNotExist}; RETURN; END;
	IF @removesShard IS NULL OR @addsShard IS NULL {missing}

	DECLARE @steps TABLE (StepId int NOT NULL, Kind int NULL, MappingId uniqueidentifier NULL, LockId uniqueidentifier NULL,
		Validate bit NULL, MinValue varbinary(128) NULL, MaxValue varbinary(128) NULL, Status int NULL,
		LockOwnerId uniqueidentifier NULL, NewStatus int NULL);
	INSERT INTO @steps (StepId, Kind, MappingId, LockId, Validate, MinValue, MaxValue, Status, LockOwnerId, NewStatus)
	SELECT st.value('(@Id)[1]', 'int'), st.value('(@Kind)[1]', 'int'), st.value('(Mapping/Id)[1]', 'uniqueidentifier'),
		st.value('(Lock/Id)[1]', 'uniqueidentifier'), st.value('(@Validate)[1]', 'bit'),
		{stepMapping}, st.value('(Mapping/LockOwnerId)[1]', 'uniqueidentifier'),
		st.value('(Update/Mapping/Status)[1]', 'int')
	FROM @input.nodes('/BulkOperationShardMappingsGlobal/Steps/Step') AS x(st)
	WHERE st.value('(@Id)[1]', 'int') BETWEEN 1 AND @stepsCount;
	IF (SELECT COUNT(DISTINCT StepId) FROM @steps) <> @stepsCount
		OR EXISTS (SELECT 1 FROM @steps WHERE Kind IS NULL OR MappingId IS NULL
			OR (Kind IN (1, 2) AND LockId IS NULL) OR (Kind = 2 AND NewStatus IS NULL)
			OR (Kind = 3 AND (Validate IS NULL OR MinValue IS NULL OR Status IS NULL OR LockOwnerId IS NULL)))
	{missing}

	-- The shards: begun before (success), pending for another operation
	-- (52), gone (202); then marked.
	DECLARE @pendingOp uniqueidentifier, @removesVersion uniqueidentifier, @addsVersion uniqueidentifier;
	SELECT @removesVersion = Version, @pendingOp = OperationId
	FROM __ShardManagement.ShardsGlobal WITH (UPDLOCK)
	WHERE ShardMapId = @mapId AND ShardId = @removesShard AND Readable = 1;
	IF @pendingOp = @operationId
	BEGIN SET @result = {Success}; RETURN; END;
	IF @pendingOp IS NOT NULL {pending}
	IF @removesVersion IS NULL
	BEGIN SET @result = {ShardDoesNotExist}; RETURN; END;
	SET @addsVersion = @removesVersion;
	IF @addsShard <> @removesShard
	BEGIN
		SET @addsVersion = NULL;
		SELECT @addsVersion = Version, @pendingOp = OperationId
		FROM __ShardManagement.ShardsGlobal WITH (UPDLOCK)
		WHERE ShardMapId = @mapId AND ShardId = @addsShard AND Readable = 1;
		IF @pendingOp = @operationId
		BEGIN SET @result = {Success}; RETURN; END;
		IF @pendingOp IS NOT NULL {pending}
		IF @addsVersion IS NULL
		BEGIN SET @result = {ShardDoesNotExist}; RETURN; END;
	END;
	UPDATE __ShardManagement.ShardsGlobal SET OperationId = @operationId
	WHERE ShardMapId = @mapId AND ShardId IN (@removesShard, @addsShard);

	-- Removes and updates: the mapping exists, the lock is the caller's, a
	-- remove takes an offline mapping and an online mapping stays on its
	-- shard; the first failing step, in step order, gives the result.
	DECLARE @fail int;
	SELECT TOP (1) @fail = CASE
			WHEN m.MappingId IS NULL THEN {MappingDoesNotExist}
			WHEN m.LockOwnerId <> s.LockId THEN {MappingLockOwnerIDDiff}
			ELSE {MappingNotOffline} END
	FROM @steps AS s
	LEFT JOIN __ShardManagement.ShardMappingsGlobal AS m WITH (UPDLOCK)
		ON m.ShardMapId = @mapId AND m.MappingId = s.MappingId AND m.Readable = 1
	WHERE s.Kind IN (1, 2) AND (m.MappingId IS NULL OR m.LockOwnerId <> s.LockId
		OR (s.Kind = 1 AND (m.Status & 1) = 1 AND @operationCode IN ({OpRemovePointMapping}, {OpRemoveRangeMapping}, {OpRemoveRangeFromRange}))
		OR (s.Kind = 2 AND (m.Status & 1) = 1 AND (s.NewStatus & 1) = 1 AND @removesShard <> @addsShard))
	ORDER BY s.StepId;
	IF @fail IS NOT NULL
	BEGIN SET @result = @fail; RETURN; END;
	UPDATE m SET OperationId = @operationId
	FROM __ShardManagement.ShardMappingsGlobal AS m
	JOIN @steps AS s ON s.MappingId = m.MappingId
	WHERE m.ShardMapId = @mapId AND m.Readable = 1 AND s.Kind IN (1, 2);

	-- Adds, in step order, so one add is checked against the ones before
	-- it: with Validate = 1 the key or range must be free (a clash with a
	-- pending operation's row is 52, so the caller recovers it first).
	DECLARE @at int = 0, @stepId int, @addId uniqueidentifier, @validate bit, @min varbinary(128), @max varbinary(128),
		@status int, @owner uniqueidentifier, @clash uniqueidentifier;
	WHILE 1 = 1
	BEGIN
		SET @stepId = NULL;
		SELECT TOP (1) @stepId = StepId, @addId = MappingId, @validate = Validate, @min = MinValue, @max = MaxValue,
			@status = Status, @owner = LockOwnerId
		FROM @steps WHERE Kind = 3 AND StepId > @at ORDER BY StepId;
		IF @stepId IS NULL BREAK;
		SET @at = @stepId;
		IF @validate = 1
		BEGIN
			SELECT @clash = NULL, @pendingOp = NULL;
			SELECT TOP (1) @clash = MappingId, @pendingOp = OperationId
			FROM __ShardManagement.ShardMappingsGlobal
			WHERE ShardMapId = @mapId AND (
				(@mapType = 1 AND MinValue = @min)
				OR (@mapType <> 1 AND (MaxValue IS NULL OR MaxValue > @min) AND (@max IS NULL OR MinValue < @max)))
			ORDER BY CASE WHEN OperationId IS NULL OR OperationId = @operationId THEN 1 ELSE 0 END;
			IF @clash IS NOT NULL
			BEGIN
				IF @pendingOp IS NOT NULL AND @pendingOp <> @operationId {pending}
				SET @result = CASE WHEN @mapType = 1 THEN {MappingPointMapped} ELSE {MappingRangeMapped} END;
				RETURN;
			END;
		END;
		INSERT INTO __ShardManagement.ShardMappingsGlobal (MappingId, Readable, ShardId, ShardMapId, OperationId, MinValue, MaxValue, Status, LockOwnerId)
		VALUES (@addId, 0, @addsShard, @mapId, @operationId, @min, @max, @status, @owner);
	END;

	IF NOT EXISTS (SELECT 1 FROM __ShardManagement.OperationsLogGlobal WITH (UPDLOCK, HOLDLOCK) WHERE OperationId = @operationId)
		INSERT INTO __ShardManagement.OperationsLogGlobal (OperationId, OperationCode, Data, ShardVersionRemoves, ShardVersionAdds)
		VALUES (@operationId, @operationCode, @input, @removesVersion, @addsVersion);
	SET @result = {Success};`},

	{name: "spBulkOperationShardMappingsGlobalEnd", root: "BulkOperationShardMappingsGlobal", body: `
	-- Undo = 0: the shards get the document's new versions, removed
	-- mappings go, updated ones take their new id, shard and status, added
	-- ones become readable. Undo = 1: marks are cleared and adds deleted.
	-- Only rows marked by this operation are touched. The log row goes.
	DECLARE @operationId uniqueidentifier, @operationCode int, @undo int, @stepsCount int, @mapId uniqueidentifier,
		@removesShard uniqueidentifier, @addsShard uniqueidentifier, @removesVersion uniqueidentifier, @addsVersion uniqueidentifier;
	SELECT @operationId = r.value('(@OperationId)[1]', 'uniqueidentifier'),
		@operationCode = r.value('(@OperationCode)[1]', 'int'),
		@undo = r.value('(@Undo)[1]', 'int'),
		@stepsCount = r.value('(@StepsCount)[1]', 'int'),
		@mapId = r.value('(ShardMap/Id)[1]', 'uniqueidentifier'),
		@removesShard = r.value('(Removes/Shard/Id)[1]', 'uniqueidentifier'),
		@addsShard = r.value('(Adds/Shard/Id)[1]', 'uniqueidentifier'),
		@removesVersion = r.value('(Removes/Shard/Version)[1]', 'uniqueidentifier'),
		@addsVersion = r.value('(Adds/Shard/Version)[1]', 'uniqueidentifier')
	FROM {doc};
	IF @operationId IS NULL OR @operationCode IS NULL OR @undo IS NULL OR @stepsCount IS NULL OR @mapId IS NULL {missing}
	IF NOT EXISTS (SELECT 1 FROM __ShardManagement.ShardMapsGlobal WITH (UPDLOCK) WHERE ShardMapId = @mapId)
	BEGIN SET @result = {ShardMapDoesNotExist}; RETURN; END;
	IF @removesShard IS NULL OR @addsShard IS NULL OR @removesVersion IS NULL OR @addsVersion IS NULL {missing}

	DECLARE @steps TABLE (StepId int NOT NULL, Kind int NULL, MappingId uniqueidentifier NULL, NewId uniqueidentifier NULL, NewStatus int NULL);
	INSERT INTO @steps (StepId, Kind, MappingId, NewId, NewStatus)
	SELECT st.value('(@Id)[1]', 'int'), st.value('(@Kind)[1]', 'int'), st.value('(Mapping/Id)[1]', 'uniqueidentifier'),
		st.value('(Update/Mapping/Id)[1]', 'uniqueidentifier'), st.value('(Update/Mapping/Status)[1]', 'int')
	FROM @input.nodes('/BulkOperationShardMappingsGlobal/Steps/Step') AS x(st)
	WHERE st.value('(@Id)[1]', 'int') BETWEEN 1 AND @stepsCount;
	IF (SELECT COUNT(DISTINCT StepId) FROM @steps) <> @stepsCount
		OR EXISTS (SELECT 1 FROM @steps WHERE Kind IS NULL OR MappingId IS NULL
			OR (@undo = 0 AND Kind = 2 AND (NewId IS NULL OR NewStatus IS NULL)))
	{missing}

	IF @undo = 1
	BEGIN
		UPDATE __ShardManagement.ShardsGlobal SET OperationId = NULL
		WHERE ShardMapId = @mapId AND ShardId IN (@removesShard, @addsShard) AND OperationId = @operationId;
		UPDATE m SET OperationId = NULL
		FROM __ShardManagement.ShardMappingsGlobal AS m JOIN @steps AS s ON s.MappingId = m.MappingId
		WHERE m.ShardMapId = @mapId AND m.OperationId = @operationId AND s.Kind IN (1, 2);
		DELETE m
		FROM __ShardManagement.ShardMappingsGlobal AS m JOIN @steps AS s ON s.MappingId = m.MappingId
		WHERE m.ShardMapId = @mapId AND m.OperationId = @operationId AND s.Kind = 3;
	END
	ELSE
	BEGIN
		UPDATE __ShardManagement.ShardsGlobal
		SET Version = CASE WHEN ShardId = @removesShard THEN @removesVersion ELSE @addsVersion END, OperationId = NULL
		WHERE ShardMapId = @mapId AND ShardId IN (@removesShard, @addsShard) AND OperationId = @operationId;
		-- Removes first: a replacement shares its MinValue with the row it replaces.
		DELETE m
		FROM __ShardManagement.ShardMappingsGlobal AS m JOIN @steps AS s ON s.MappingId = m.MappingId
		WHERE m.ShardMapId = @mapId AND m.OperationId = @operationId AND s.Kind = 1;
		UPDATE m SET MappingId = s.NewId, ShardId = @addsShard, Status = s.NewStatus, OperationId = NULL
		FROM __ShardManagement.ShardMappingsGlobal AS m JOIN @steps AS s ON s.MappingId = m.MappingId
		WHERE m.ShardMapId = @mapId AND m.OperationId = @operationId AND s.Kind = 2;
		UPDATE m SET Readable = 1, OperationId = NULL
		FROM __ShardManagement.ShardMappingsGlobal AS m JOIN @steps AS s ON s.MappingId = m.MappingId
		WHERE m.ShardMapId = @mapId AND m.OperationId = @operationId AND s.Kind = 3;
	END;
	DELETE FROM __ShardManagement.OperationsLogGlobal WHERE OperationId = @operationId;
	SET @result = {Success};`},

	{name: "spLockOrUnlockShardMappingsGlobal", root: "LockOrUnlockShardMappingsGlobal", body: `
	-- Lock/Operation: 0 lock a mapping, 1 unlock it (the owner, or the
	-- force-unlock id), 2 unlock every mapping of the map this owner holds,
	-- 3 unlock every mapping of the map.
	DECLARE @mapId uniqueidentifier, @mappingId uniqueidentifier, @lockId uniqueidentifier, @lockOp int;
	SELECT @mapId = r.value('(ShardMap/Id)[1]', 'uniqueidentifier'),
		@mappingId = r.value('(Mapping/Id)[1]', 'uniqueidentifier'),
		@lockId = r.value('(Lock/Id)[1]', 'uniqueidentifier'),
		@lockOp = r.value('(Lock/Operation)[1]', 'int')
	FROM {doc};
	IF @mapId IS NULL OR @lockId IS NULL OR @lockOp IS NULL OR @lockOp NOT BETWEEN 0 AND 3 OR (@lockOp < 2 AND @mappingId IS NULL) {missing}
	IF NOT EXISTS (SELECT 1 FROM __ShardManagement.ShardMapsGlobal WITH (UPDLOCK) WHERE ShardMapId = @mapId)
	BEGIN SET @result = {ShardMapDoesNotExist}; RETURN; END;
	DECLARE @noOwner uniqueidentifier = '00000000-0000-0000-0000-000000000000',
		@forceUnlock uniqueidentifier = 'FFFFFFFF-FFFF-FFFF-FFFF-FFFFFFFFFFFF',
		@owner uniqueidentifier, @pendingOp uniqueidentifier;
	IF @lockOp < 2
	BEGIN
		SELECT @owner = LockOwnerId, @pendingOp = OperationId
		FROM __ShardManagement.ShardMappingsGlobal WITH (UPDLOCK)
		WHERE ShardMapId = @mapId AND MappingId = @mappingId;
		IF @owner IS NULL
		BEGIN SET @result = {MappingDoesNotExist}; RETURN; END;
		IF @pendingOp IS NOT NULL {pending}
		IF @lockOp = 0 AND @owner <> @noOwner
		BEGIN SET @result = {MappingAlreadyLocked}; RETURN; END;
		IF @lockOp = 1 AND @lockId <> @owner AND @lockId <> @forceUnlock
		BEGIN SET @result = {MappingLockOwnerIDDiff}; RETURN; END;
	END;
	UPDATE __ShardManagement.ShardMappingsGlobal
	SET LockOwnerId = CASE WHEN @lockOp = 0 THEN @lockId ELSE @noOwner END
	WHERE ShardMapId = @mapId
		AND (@lockOp = 3 OR (@lockOp = 2 AND LockOwnerId = @lockId) OR (@lockOp < 2 AND MappingId = @mappingId));
	SET @result = {Success};`},

	{name: "spAddShardingSchemaInfoGlobal", root: "AddShardingSchemaInfoGlobal", body: `
	DECLARE @name nvarchar(128), @info xml;
	SELECT @name = r.value('(SchemaInfo/Name)[1]', 'nvarchar(128)'), @info = r.query('SchemaInfo/Info/*') FROM {doc};
	IF @name IS NULL OR @info IS NULL {missing}
	IF EXISTS (SELECT 1 FROM __ShardManagement.ShardedDatabaseSchemaInfosGlobal WITH (UPDLOCK, HOLDLOCK) WHERE Name = @name)
	BEGIN SET @result = {SchemaInfoNameConflict}; RETURN; END;
	INSERT INTO __ShardManagement.ShardedDatabaseSchemaInfosGlobal (Name, SchemaInfo) VALUES (@name, @info);
	SET @result = {Success};`},

	{name: "spUpdateShardingSchemaInfoGlobal", root: "UpdateShardingSchemaInfoGlobal", body: `
	DECLARE @name nvarchar(128), @info xml;
	SELECT @name = r.value('(SchemaInfo/Name)[1]', 'nvarchar(128)'), @info = r.query('SchemaInfo/Info/*') FROM {doc};
	IF @name IS NULL OR @info IS NULL {missing}
	UPDATE __ShardManagement.ShardedDatabaseSchemaInfosGlobal SET SchemaInfo = @info WHERE Name = @name;
	IF @@ROWCOUNT = 0
	BEGIN SET @result = {SchemaInfoNameMissing}; RETURN; END;
	SET @result = {Success};`},

	{name: "spGetAllShardingSchemaInfosGlobal", root: "GetAllShardingSchemaInfosGlobal", body: `
	SELECT 7 AS RowsetKind, Name, SchemaInfo FROM __ShardManagement.ShardedDatabaseSchemaInfosGlobal;
	SET @result = {Success};`},

	// The library's request for this procedure is rooted at
	// FindShardingSchemaInfoGlobal, without "ByName".
	{name: "spFindShardingSchemaInfoByNameGlobal", root: "FindShardingSchemaInfoGlobal", body: `
	DECLARE @name nvarchar(128);
	SELECT @name = r.value('(SchemaInfo/Name)[1]', 'nvarchar(128)') FROM {doc};
	IF @name IS NULL {missing}
	SELECT 7 AS RowsetKind, Name, SchemaInfo FROM __ShardManagement.ShardedDatabaseSchemaInfosGlobal WHERE Name = @name;
	IF @@ROWCOUNT = 0
	BEGIN SET @result = {SchemaInfoNameMissing}; RETURN; END;
	SET @result = {Success};`},

	{name: "spRemoveShardingSchemaInfoGlobal", root: "RemoveShardingSchemaInfoGlobal", body: `
	DECLARE @name nvarchar(128);
	SELECT @name = r.value('(SchemaInfo/Name)[1]', 'nvarchar(128)') FROM {doc};
	IF @name IS NULL {missing}
	DELETE FROM __ShardManagement.ShardedDatabaseSchemaInfosGlobal WHERE Name = @name;
	IF @@ROWCOUNT = 0
	BEGIN SET @result = {SchemaInfoNameMissing}; RETURN; END;
	SET @result = {Success};`},

	// The RecoveryManager's procedures write the global map directly,
	// without the operation log.

	// Attach: the map (added when missing; 101 when its id or its name is
	// another map's) and a readable shard row (205 when the shard id or its
	// location in the map is taken). Nothing is written on an error.
	{name: "spAttachShardGlobal", root: "AttachShardGlobal", body: `
	DECLARE @mapId uniqueidentifier, @name nvarchar(50), @kind int, @keyKind int,
		{shardVars};
	SELECT {mapFields},
		{shardFields}
	FROM {doc};
	IF @mapId IS NULL OR @name IS NULL OR @kind IS NULL OR @keyKind IS NULL OR @shardId IS NULL
		OR @version IS NULL OR @protocol IS NULL OR @server IS NULL OR @port IS NULL OR @database IS NULL OR @status IS NULL {missing}
	IF EXISTS (SELECT 1 FROM __ShardManagement.ShardMapsGlobal WITH (UPDLOCK, HOLDLOCK)
		WHERE (ShardMapId = @mapId AND Name <> @name) OR (ShardMapId <> @mapId AND Name = @name))
	BEGIN SET @result = {ShardMapExists}; RETURN; END;
	IF EXISTS (SELECT 1 FROM __ShardManagement.ShardsGlobal WITH (UPDLOCK, HOLDLOCK)
		WHERE ShardId = @shardId
			OR (ShardMapId = @mapId AND Protocol = @protocol AND ServerName = @server AND Port = @port AND DatabaseName = @database))
	BEGIN SET @result = {ShardLocationExists}; RETURN; END;
	IF NOT EXISTS (SELECT 1 FROM __ShardManagement.ShardMapsGlobal WHERE ShardMapId = @mapId)
		INSERT INTO __ShardManagement.ShardMapsGlobal (ShardMapId, Name, ShardMapType, KeyType) VALUES (@mapId, @name, @kind, @keyKind);
	INSERT INTO __ShardManagement.ShardsGlobal (ShardId, Readable, Version, ShardMapId, OperationId, Protocol, ServerName, Port, DatabaseName, Status)
	VALUES (@shardId, 1, @version, @mapId, NULL, @protocol, @server, @port, @database, @status);
	SET @result = {Success};`},

	// Detach: the shard rows at a location, in the named map or (ShardMap
	// Null="1") in every map, and their mappings. The maps stay. The
	// library's own procedure reads the name from "Shardmap", which its
	// request never has, so it always detaches from every map; this one
	// reads the element the request has.
	{name: "spDetachShardGlobal", root: "DetachShardGlobal", body: `
	DECLARE @protocol int, @server nvarchar(128), @port int, @database nvarchar(128), @name nvarchar(50);
	SELECT @protocol = r.value('(Location/Protocol)[1]', 'int'),
		@server = r.value('(Location/ServerName)[1]', 'nvarchar(128)'),
		@port = r.value('(Location/Port)[1]', 'int'),
		@database = r.value('(Location/DatabaseName)[1]', 'nvarchar(128)'),
		@name = r.value('(ShardMap[@Null="0"]/Name)[1]', 'nvarchar(50)')
	FROM {doc};
	IF @protocol IS NULL OR @server IS NULL OR @port IS NULL OR @database IS NULL {missing}
	DECLARE @detach TABLE (ShardId uniqueidentifier NOT NULL PRIMARY KEY, ShardMapId uniqueidentifier NOT NULL);
	INSERT INTO @detach (ShardId, ShardMapId)
	SELECT s.ShardId, s.ShardMapId
	FROM __ShardManagement.ShardsGlobal AS s WITH (UPDLOCK, HOLDLOCK)
	JOIN __ShardManagement.ShardMapsGlobal AS m ON m.ShardMapId = s.ShardMapId
	WHERE s.Protocol = @protocol AND s.ServerName = @server AND s.Port = @port AND s.DatabaseName = @database
		AND (@name IS NULL OR m.Name = @name);
	DELETE g
	FROM __ShardManagement.ShardMappingsGlobal AS g JOIN @detach AS d ON d.ShardId = g.ShardId AND d.ShardMapId = g.ShardMapId;
	DELETE g
	FROM __ShardManagement.ShardsGlobal AS g JOIN @detach AS d ON d.ShardId = g.ShardId;
	SET @result = {Success};`},

	// Replace (RecoveryManager.ResolveMappingDifferences keeping the
	// shard's mappings): delete the RemoveSteps' mappings and insert the
	// AddSteps' ones readable, on AddSteps/Shard, with no lock owner. A
	// removed mapping goes whichever shard it is on (the library's own
	// procedure deletes it only on RemoveSteps/Shard, which leaves a
	// clashing mapping of another shard in place).
	{name: "spReplaceShardMappingsGlobal", root: "ReplaceShardMappingsGlobal", body: `
	DECLARE @removeCount int, @addCount int, @mapId uniqueidentifier, @removesShard uniqueidentifier, @addsShard uniqueidentifier;
	SELECT @removeCount = r.value('(@RemoveStepsCount)[1]', 'int'),
		@addCount = r.value('(@AddStepsCount)[1]', 'int'),
		@mapId = r.value('(ShardMap/Id)[1]', 'uniqueidentifier'),
		@removesShard = r.value('(RemoveSteps/Shard/Id)[1]', 'uniqueidentifier'),
		@addsShard = r.value('(AddSteps/Shard/Id)[1]', 'uniqueidentifier')
	FROM {doc};
	IF @removeCount IS NULL OR @addCount IS NULL OR @mapId IS NULL {missing}
	IF NOT EXISTS (SELECT 1 FROM __ShardManagement.ShardMapsGlobal WITH (UPDLOCK) WHERE ShardMapId = @mapId)
	BEGIN SET @result = {ShardMapDoesNotExist}; RETURN; END;
	IF (@removeCount > 0 AND @removesShard IS NULL) OR (@addCount > 0 AND @addsShard IS NULL) {missing}

	DECLARE @removes TABLE (StepId int NOT NULL, MappingId uniqueidentifier NULL);
	INSERT INTO @removes (StepId, MappingId)
	SELECT rm.value('(@Id)[1]', 'int'), rm.value('(Mapping/Id)[1]', 'uniqueidentifier')
	FROM @input.nodes('/ReplaceShardMappingsGlobal/RemoveSteps/Step') AS x(rm)
	WHERE rm.value('(@Id)[1]', 'int') BETWEEN 1 AND @removeCount;
	DECLARE @adds TABLE (StepId int NOT NULL, MappingId uniqueidentifier NULL, MinValue varbinary(128) NULL,
		MaxValue varbinary(128) NULL, Status int NULL);
	INSERT INTO @adds (StepId, MappingId, MinValue, MaxValue, Status)
	SELECT st.value('(@Id)[1]', 'int'), st.value('(Mapping/Id)[1]', 'uniqueidentifier'),
		{stepMapping}
	FROM @input.nodes('/ReplaceShardMappingsGlobal/AddSteps/Step') AS x(st)
	WHERE st.value('(@Id)[1]', 'int') BETWEEN 1 AND @addCount;
	IF (SELECT COUNT(DISTINCT StepId) FROM @removes) <> @removeCount
		OR (SELECT COUNT(DISTINCT StepId) FROM @adds) <> @addCount
		OR EXISTS (SELECT 1 FROM @removes WHERE MappingId IS NULL)
		OR EXISTS (SELECT 1 FROM @adds WHERE MappingId IS NULL OR MinValue IS NULL OR Status IS NULL)
	{missing}

	DELETE m
	FROM __ShardManagement.ShardMappingsGlobal AS m JOIN @removes AS s ON s.MappingId = m.MappingId
	WHERE m.ShardMapId = @mapId;
	INSERT INTO __ShardManagement.ShardMappingsGlobal (MappingId, Readable, ShardId, ShardMapId, OperationId, MinValue, MaxValue, Status)
	SELECT MappingId, 1, @addsShard, @mapId, NULL, MinValue, MaxValue, Status FROM @adds;
	SET @result = {Success};`},
}
