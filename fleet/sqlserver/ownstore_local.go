package sqlserver

// The local store's procedures, in every shard database (see ownstore.go).
// Each local write records the operation in LastOperationId, which makes a
// repeated call a no-op; an undo tolerates rows that are there already.

var localProcs = []storeProc{
	{name: "spGetAllShardsLocal", root: "GetAllShardsLocal", body: `
	SELECT 1 AS RowsetKind, ShardMapId, Name, MapType, KeyType FROM __ShardManagement.ShardMapsLocal;
	SELECT 2 AS RowsetKind, ShardId, Version, ShardMapId, Protocol, ServerName, Port, DatabaseName, Status
	FROM __ShardManagement.ShardsLocal;
	SET @result = {Success};`},

	// The library's data-dependent routing validates a connection against
	// these two (ConnectionOptions.Validate): the shard's version and the
	// mapping's presence and status as its global cache knows them.
	{name: "spValidateShardLocal", root: "ValidateShardLocal", body: `
	DECLARE @mapId uniqueidentifier, @shardId uniqueidentifier, @shardVersion uniqueidentifier, @current uniqueidentifier;
	SELECT @mapId = r.value('(ShardMapId)[1]', 'uniqueidentifier'),
		@shardId = r.value('(ShardId)[1]', 'uniqueidentifier'),
		@shardVersion = r.value('(ShardVersion)[1]', 'uniqueidentifier')
	FROM {doc};
	IF @mapId IS NULL OR @shardId IS NULL OR @shardVersion IS NULL {missing}
	IF NOT EXISTS (SELECT 1 FROM __ShardManagement.ShardMapsLocal WHERE ShardMapId = @mapId)
	BEGIN SET @result = {ShardMapDoesNotExist}; RETURN; END;
	SELECT @current = Version FROM __ShardManagement.ShardsLocal WHERE ShardMapId = @mapId AND ShardId = @shardId;
	IF @current IS NULL
	BEGIN SET @result = {ShardDoesNotExist}; RETURN; END;
	IF @current <> @shardVersion
	BEGIN SET @result = {ShardVersionMismatch}; RETURN; END;
	SET @result = {Success};`},

	{name: "spValidateShardMappingLocal", root: "ValidateShardMappingLocal", body: `
	DECLARE @mapId uniqueidentifier, @mappingId uniqueidentifier, @status int;
	SELECT @mapId = r.value('(ShardMapId)[1]', 'uniqueidentifier'),
		@mappingId = r.value('(MappingId)[1]', 'uniqueidentifier')
	FROM {doc};
	IF @mapId IS NULL OR @mappingId IS NULL {missing}
	IF NOT EXISTS (SELECT 1 FROM __ShardManagement.ShardMapsLocal WHERE ShardMapId = @mapId)
	BEGIN SET @result = {ShardMapDoesNotExist}; RETURN; END;
	SELECT @status = Status FROM __ShardManagement.ShardMappingsLocal WHERE ShardMapId = @mapId AND MappingId = @mappingId;
	IF @status IS NULL
	BEGIN SET @result = {MappingDoesNotExist}; RETURN; END;
	-- Status 1 is online; a move takes the mapping offline first.
	IF @status <> 1
	BEGIN SET @result = {MappingIsOffline}; RETURN; END;
	SET @result = {Success};`},

	{name: "spAddShardLocal", root: "AddShardLocal", body: `
	DECLARE @operationId uniqueidentifier, @undo int, @mapId uniqueidentifier, @name nvarchar(50), @kind int, @keyKind int,
		{shardVars};
	SELECT @operationId = r.value('(@OperationId)[1]', 'uniqueidentifier'),
		@undo = r.value('(@Undo)[1]', 'int'),
		{mapFields},
		{shardFields}
	FROM {doc};
	IF @operationId IS NULL OR @mapId IS NULL OR @name IS NULL OR @kind IS NULL OR @keyKind IS NULL OR @shardId IS NULL
		OR @version IS NULL OR @protocol IS NULL OR @server IS NULL OR @port IS NULL OR @database IS NULL OR @status IS NULL {missing}
	IF EXISTS (SELECT 1 FROM __ShardManagement.ShardMapsLocal WHERE ShardMapId = @mapId AND LastOperationId = @operationId)
	BEGIN SET @result = {Success}; RETURN; END;
	-- Rows that are there already: expected in an undo (the shard was
	-- removed only in part), an error otherwise.
	IF EXISTS (SELECT 1 FROM __ShardManagement.ShardMapsLocal WITH (UPDLOCK, HOLDLOCK) WHERE ShardMapId = @mapId)
	BEGIN
		IF ISNULL(@undo, 0) <> 1
		BEGIN SET @result = {UnexpectedStoreError}; RETURN; END;
	END
	ELSE
		INSERT INTO __ShardManagement.ShardMapsLocal (ShardMapId, Name, MapType, KeyType, LastOperationId)
		VALUES (@mapId, @name, @kind, @keyKind, @operationId);
	IF EXISTS (SELECT 1 FROM __ShardManagement.ShardsLocal WITH (UPDLOCK, HOLDLOCK)
		WHERE ShardId = @shardId OR (ShardMapId = @mapId AND Protocol = @protocol AND ServerName = @server AND Port = @port AND DatabaseName = @database))
	BEGIN
		IF ISNULL(@undo, 0) <> 1
		BEGIN SET @result = {UnexpectedStoreError}; RETURN; END;
	END
	ELSE
		INSERT INTO __ShardManagement.ShardsLocal (ShardId, Version, ShardMapId, Protocol, ServerName, Port, DatabaseName, Status, LastOperationId)
		VALUES (@shardId, @version, @mapId, @protocol, @server, @port, @database, @status, @operationId);
	SET @result = {Success};`},

	{name: "spRemoveShardLocal", root: "RemoveShardLocal", body: `
	DECLARE @operationId uniqueidentifier, @mapId uniqueidentifier, @shardId uniqueidentifier;
	SELECT @operationId = r.value('(@OperationId)[1]', 'uniqueidentifier'),
		@mapId = r.value('(ShardMap/Id)[1]', 'uniqueidentifier'),
		@shardId = r.value('(Shard/Id)[1]', 'uniqueidentifier')
	FROM {doc};
	IF @operationId IS NULL OR @mapId IS NULL OR @shardId IS NULL {missing}
	DELETE FROM __ShardManagement.ShardsLocal WHERE ShardMapId = @mapId AND ShardId = @shardId;
	DELETE FROM __ShardManagement.ShardMapsLocal WHERE ShardMapId = @mapId;
	SET @result = {Success};`},

	{name: "spUpdateShardLocal", root: "UpdateShardLocal", body: `
	DECLARE @operationId uniqueidentifier, @mapId uniqueidentifier, @shardId uniqueidentifier, @version uniqueidentifier,
		@protocol int, @server nvarchar(128), @port int, @database nvarchar(128), @status int;
	SELECT @operationId = r.value('(@OperationId)[1]', 'uniqueidentifier'),
		@mapId = r.value('(ShardMap/Id)[1]', 'uniqueidentifier'),
		{shardFields}
	FROM {doc};
	IF @operationId IS NULL OR @mapId IS NULL OR @shardId IS NULL OR @version IS NULL OR @protocol IS NULL
		OR @server IS NULL OR @port IS NULL OR @database IS NULL OR @status IS NULL {missing}
	UPDATE __ShardManagement.ShardsLocal
	SET Version = @version, Status = @status, Protocol = @protocol, ServerName = @server, Port = @port,
		DatabaseName = @database, LastOperationId = @operationId
	WHERE ShardMapId = @mapId AND ShardId = @shardId;
	IF @@ROWCOUNT = 0
	BEGIN SET @result = {ShardDoesNotExist}; RETURN; END;
	SET @result = {Success};`},

	{name: "spGetAllShardMappingsLocal", root: "GetAllShardMappingsLocal", body: `
	DECLARE @mapId uniqueidentifier, @shardId uniqueidentifier, @lo varbinary(128), @hi varbinary(128), @mapType int;
	SELECT @mapId = r.value('(ShardMap/Id)[1]', 'uniqueidentifier'),
		@shardId = r.value('(Shard/Id)[1]', 'uniqueidentifier'),
		@lo = CONVERT(varbinary(128), r.value('(Range[@Null="0"]/MinValue)[1]', 'varchar(258)'), 1),
		@hi = CONVERT(varbinary(128), r.value('(Range[@Null="0"]/MaxValue[@Null="0"])[1]', 'varchar(258)'), 1)
	FROM {doc};
	IF @mapId IS NULL OR @shardId IS NULL {missing}
	{mapType}
	SET @lo = ISNULL(@lo, 0x);
	SELECT 3 AS RowsetKind, {mappingRows}
	WHERE m.ShardMapId = @mapId AND m.ShardId = @shardId
		AND (@hi IS NULL OR m.MinValue < @hi)
		AND ((@mapType = 1 AND m.MinValue >= @lo) OR (@mapType <> 1 AND (m.MaxValue IS NULL OR m.MaxValue > @lo)))
	ORDER BY m.MinValue;
	SET @result = {Success};`},

	// The RecoveryManager's lookup of the local mappings holding a key
	// (every one: a damaged local map may have more than one).
	findMappingByKey("Local", "", "", "\n\tORDER BY m.MinValue"),

	{name: "spBulkOperationShardMappingsLocal", root: "BulkOperationShardMappingsLocal", body: `
	-- The shard takes the document's version; removes (Kind 1) go, adds
	-- (Kind 3) come. A call that ran before (same version, same operation)
	-- does nothing.
	DECLARE @operationId uniqueidentifier, @undo int, @stepsCount int, @mapId uniqueidentifier,
		@shardId uniqueidentifier, @version uniqueidentifier;
	SELECT @operationId = r.value('(@OperationId)[1]', 'uniqueidentifier'),
		@undo = r.value('(@Undo)[1]', 'int'),
		@stepsCount = r.value('(@StepsCount)[1]', 'int'),
		@mapId = r.value('(ShardMap/Id)[1]', 'uniqueidentifier'),
		@shardId = r.value('(Shard/Id)[1]', 'uniqueidentifier'),
		@version = r.value('(Shard/Version)[1]', 'uniqueidentifier')
	FROM {doc};
	IF @operationId IS NULL OR @stepsCount IS NULL OR @mapId IS NULL OR @shardId IS NULL OR @version IS NULL {missing}
	IF EXISTS (SELECT 1 FROM __ShardManagement.ShardsLocal
		WHERE ShardMapId = @mapId AND ShardId = @shardId AND Version = @version AND LastOperationId = @operationId)
	BEGIN SET @result = {Success}; RETURN; END;

	DECLARE @steps TABLE (StepId int NOT NULL, Kind int NULL, MappingId uniqueidentifier NULL,
		MinValue varbinary(128) NULL, MaxValue varbinary(128) NULL, Status int NULL);
	INSERT INTO @steps (StepId, Kind, MappingId, MinValue, MaxValue, Status)
	SELECT st.value('(@Id)[1]', 'int'), st.value('(@Kind)[1]', 'int'), st.value('(Mapping/Id)[1]', 'uniqueidentifier'),
		{stepMapping}
	FROM @input.nodes('/BulkOperationShardMappingsLocal/Steps/Step') AS x(st)
	WHERE st.value('(@Id)[1]', 'int') BETWEEN 1 AND @stepsCount;
	IF (SELECT COUNT(DISTINCT StepId) FROM @steps) <> @stepsCount
		OR EXISTS (SELECT 1 FROM @steps WHERE Kind IS NULL OR MappingId IS NULL OR (Kind = 3 AND (MinValue IS NULL OR Status IS NULL)))
	{missing}

	UPDATE __ShardManagement.ShardsLocal SET Version = @version, LastOperationId = @operationId
	WHERE ShardMapId = @mapId AND ShardId = @shardId;
	DELETE m
	FROM __ShardManagement.ShardMappingsLocal AS m JOIN @steps AS s ON s.MappingId = m.MappingId
	WHERE m.ShardMapId = @mapId AND s.Kind = 1;
	-- An add whose row (or key) is there already: expected in an undo, an
	-- error otherwise.
	IF ISNULL(@undo, 0) <> 1 AND EXISTS (SELECT 1 FROM @steps AS s
		JOIN __ShardManagement.ShardMappingsLocal AS m WITH (UPDLOCK, HOLDLOCK)
			ON m.MappingId = s.MappingId OR (m.ShardMapId = @mapId AND m.MinValue = s.MinValue)
		WHERE s.Kind = 3)
	BEGIN SET @result = {UnexpectedStoreError}; RETURN; END;
	INSERT INTO __ShardManagement.ShardMappingsLocal (MappingId, ShardId, ShardMapId, MinValue, MaxValue, Status, LastOperationId)
	SELECT s.MappingId, @shardId, @mapId, s.MinValue, s.MaxValue, s.Status, @operationId
	FROM @steps AS s
	WHERE s.Kind = 3 AND NOT EXISTS (SELECT 1 FROM __ShardManagement.ShardMappingsLocal AS m
		WHERE m.MappingId = s.MappingId OR (m.ShardMapId = @mapId AND m.MinValue = s.MinValue));
	SET @result = {Success};`},

	{name: "spKillSessionsForShardMappingLocal", root: "KillSessionsForShardMappingLocal", body: `
	-- End the user sessions whose application name holds the pattern (the
	-- library's routing connections of one map). Not in a transaction:
	-- KILL runs alone. A session that ended meanwhile (6106) is fine.
	DECLARE @pattern nvarchar(128);
	SELECT @pattern = r.value('(Pattern)[1]', 'nvarchar(128)') FROM {doc};
	IF @pattern IS NULL {missing}
	DECLARE @victims TABLE (SessionId int NOT NULL PRIMARY KEY);
	INSERT INTO @victims (SessionId)
	SELECT session_id FROM sys.dm_exec_sessions
	WHERE is_user_process = 1 AND session_id <> @@SPID AND program_name LIKE N'%' + @pattern + N'%';
	DECLARE @spid int = (SELECT MAX(SessionId) FROM @victims), @kill nvarchar(32);
	WHILE @spid IS NOT NULL
	BEGIN
		SET @kill = N'KILL ' + CONVERT(nvarchar(11), @spid);
		BEGIN TRY
			EXEC (@kill);
		END TRY
		BEGIN CATCH
			IF ERROR_NUMBER() <> 6106
			BEGIN SET @result = {UnableToKillSessions}; RETURN; END;
		END CATCH;
		SET @spid = (SELECT MAX(SessionId) FROM @victims WHERE SessionId < @spid);
	END;
	SET @result = {Success};`},
}
