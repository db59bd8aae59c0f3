# mypy: disable-error-code="valid-type"
"""``aifx.fill``: write a FillJob, run ``aifx run`` out of process, load the filled frames back.

With a UI the operator is modal (a timer polls the worker, the status bar shows frame i/n and ETA, Esc
cancels); under ``blender -b`` it runs synchronously and logs progress. Both paths share :func:`prepare`.
"""

from __future__ import annotations

import contextlib
import os
from dataclasses import dataclass, field
from typing import Any

import bpy
from bpy.props import BoolProperty, StringProperty

from . import colorspaces, confidence_view, jobs, masks, plates, preferences, session, targets
from .aifx_protocol.errors import AifxError, InputError
from .aifx_protocol.frames import FRAME_TOKEN, output_extension, refuse_output_type
from .jobs import split_sequence_path
from .plates import Plate, UserError
from .settings import ONE_SHOT, FillOptions
from .wording import blender_terms

#: Job files with a modal fill running now: a second press on AI Fill must not start a second worker.
_RUNNING_JOBS: set[str] = set()


@dataclass
class PreparedFill:
    """A checked fill, ready to run: the job is built but not yet written, the mask not yet rasterised."""

    plate: Plate
    job: jobs.FillJob
    job_path: str
    output: str
    numbers: list
    python: str
    #: The Mask still to rasterise (frame by frame, before the worker starts), or None for a matte on disk.
    raster: masks.MaskRaster | None = None
    #: Folders this run made, removed again (when empty) if the job is rejected before it fills a frame.
    new_folders: list = field(default_factory=list)
    #: The job file an earlier fill left at ``job_path``, restored if this job is rejected.
    previous_job: bytes | None = None
    #: Whether this run wrote ``job_path`` (set by :func:`start_worker`). Before that the file on disk, if any,
    #: is an earlier fill's: a raster that stops (Esc, an error, an undo) must leave it alone, and deleted it.
    wrote_job: bool = False
    #: Output frames on disk (path -> mtime) when the worker started: a run that changed none filled nothing.
    outputs_before: dict = field(default_factory=dict)
    #: The confidence node group this run's result built ("" until then, or when it could not be built).
    confidence_group: str = ""
    #: How Blender reads the plate's alpha (:func:`plates.alpha_mode`, which opens a clip's first file): worked
    #: out once, in :func:`prepare`, for the result's format, its Alpha mode and the confidence group's Image.
    alpha_mode: str | None = None


def _space(context: bpy.types.Context, kind: str):
    space = getattr(context, "space_data", None)
    return space if space is not None and space.type == kind else None


def apply_scene_settings(op: AIFX_OT_fill, context: bpy.types.Context) -> None:
    """Settings the caller left unset come from the scene's AI Fill panel: the menu entry and F3 set none,
    and a script that passes only ``backend=`` keeps the artist's other choices."""
    settings = getattr(context.scene, "aifx", None)
    if settings is None:
        return
    for name in FillOptions.shared:
        if not op.properties.is_property_set(name):
            setattr(op, name, getattr(settings, name))


def _named(collection: Any, name: str, library: str) -> Any:
    """The datablock ``name`` linked from ``library`` (the .blend's path as Blender stores it), or with no
    library the local one (Blender lists it before a linked one of that name), else a linked one.

    Blender names a clip after its file, so a comp with sh020's ``plate.1001.exr`` local and sh010's linked
    has two clips of one name: by name alone the panel's button filled the local shot instead of the one the
    editor showed."""
    return collection.get((name, library)) if library else collection.get(name)


def _linked_from(library: str) -> str:
    return f" linked from {library}" if library else ""


def find_plate(op: AIFX_OT_fill, context: bpy.types.Context) -> Plate:
    """The plate from the operator's properties, else from the editor the operator was called in."""
    scene = context.scene
    if op.input:
        return plates.path_plate(op.input, op.colorspace or None)
    if op.clip:
        clip = _named(bpy.data.movieclips, op.clip, op.clip_library)
        if clip is None:
            raise UserError(
                f"Movie Clip '{op.clip}'{_linked_from(op.clip_library)} not found; open the plate in the "
                "Movie Clip Editor"
            )
        return plates.clip_plate(clip)
    if op.image:
        image = _named(bpy.data.images, op.image, op.image_library)
        if image is None:
            raise UserError(
                f"Image '{op.image}'{_linked_from(op.image_library)} not found; open the plate in the Image Editor"
            )
        # The editor's Image User places the plate it shows, also while it shows the plate's AI Fill result
        # (the panel names the plate then): without it the mattes were rasterised at the wrong scene frames.
        space = _space(context, "IMAGE_EDITOR")
        shown = space.image if space is not None else None
        user = (
            space.image_user if shown is not None and image in (shown, targets.fill_source(shown)) else None
        )
        return plates.image_plate(image, scene, user)
    # The editor's clip or image; when it shows an AI Fill result, the plate that result was filled from.
    clip_space = _space(context, "CLIP_EDITOR")
    if clip_space is not None and clip_space.clip is not None:
        return plates.clip_plate(targets.fill_source(clip_space.clip))
    image_space = _space(context, "IMAGE_EDITOR")
    if image_space is not None and image_space.image is not None:
        return plates.image_plate(targets.fill_source(image_space.image), scene, image_space.image_user)
    raise UserError(
        "no plate: open an image sequence in the Movie Clip Editor (or the Image Editor) and run AI Fill "
        "there (scripts: clip=, image= or input=PATH)"
    )


def find_mask(op: AIFX_OT_fill, context: bpy.types.Context):
    """A mask path, a Mask datablock (to rasterise) or an Image matte, in that order of precedence."""
    if op.mask:
        return plates.pattern_path(op.mask, "Mask")
    if op.mask_datablock:
        mask = _named(bpy.data.masks, op.mask_datablock, op.mask_library)
        if mask is None:
            raise UserError(
                f"Mask '{op.mask_datablock}'{_linked_from(op.mask_library)} not found; draw a mask in the "
                "Movie Clip Editor's Mask mode"
            )
        return mask
    if op.mask_image:
        image = _named(bpy.data.images, op.mask_image, op.mask_image_library)
        if image is None:
            raise UserError(
                f"mask Image '{op.mask_image}'{_linked_from(op.mask_image_library)} not found; load the matte "
                "in the Image Editor"
            )
        return image
    # The panel's rule (targets.editor_mask): its Mask field, else the editor's Mask, else its Matte.
    settings = getattr(context.scene, "aifx", None)
    space = _space(context, "CLIP_EDITOR") or _space(context, "IMAGE_EDITOR")
    mask = targets.editor_mask(settings, space)
    if mask is not None:
        return mask
    if settings is not None and settings.mask_image is not None:
        return settings.mask_image
    raise UserError(
        "no mask: draw a Mask over the object (Movie Clip Editor, Mask mode) or pick a Mask or Matte in the "
        "AI Fill panel (scripts: mask=PATH)"
    )


def frame_numbers(op: AIFX_OT_fill, plate: Plate, scene: bpy.types.Scene) -> list | None:
    """File numbers to fill: the scene (or given) range clipped to the plate; None means every frame."""
    if plate.kind == "path" and op.use_scene_range:
        return None
    if plate.sequence is None:
        return None
    wanted = (scene.frame_start, scene.frame_end) if op.use_scene_range else (op.frame_start, op.frame_end)
    first, last = wanted
    span = plate.scene_range()
    if span is not None:
        first, last = max(first, span[0]), min(last, span[1])
    if first > last:
        where = plate.span_words()
        placed = {
            "clip": ", or place the clip (Footage Settings > Start Frame, Frame Offset)",
            "image": ", or place the sequence (Image Editor sidebar > Image > Frames, Start Frame, Offset)",
        }.get(plate.kind, "")
        raise UserError(
            f"{plate.name}: frame range {wanted[0]}-{wanted[1]} does not overlap the plate ({where}); "
            f"set the scene's frame range, or untick Scene Range and set Start and End{placed}"
        )
    return [plate.file_number(frame) for frame in range(first, last + 1)]


def _mask_pattern(mask_source, plate: Plate, paths: dict, numbers: list | None) -> tuple[str, tuple | None]:
    """The matte pattern for the job, and for a Mask datablock what to rasterise: (mask, size, frames,
    file numbers) — it is rasterised later, frame by frame, so pressing AI Fill does not freeze Blender."""
    if isinstance(mask_source, str):
        return mask_source, None
    if isinstance(mask_source, bpy.types.Mask):
        if numbers is None:
            if plate.sequence is None:
                numbers = [plate.first_number]
            else:
                found = plates.sequence_numbers(plate.pattern)
                if not found:
                    raise UserError(f"{plate.name}: no frames found for {plate.pattern}; check the path")
                numbers = found
        pattern = paths["mask"] if plate.sequence is not None else paths["mask"].replace("#", "0")
        scene_frames = [plate.scene_frame(n) for n in numbers]
        return pattern, (mask_source, plates.plate_size(plate), scene_frames, list(numbers), pattern)
    return plates.matte_path(mask_source), None  # An Image matte: a still or a numbered sequence.


def _refuse_another_plates_folder(job_path: str, plate: Plate, fix: str) -> None:
    """Outputs are named after the plate's file name, so shots whose plates share one (``plate.####.exr``)
    and one Output Folder would mix: the second shot was refused as made with different settings, and with
    Redo Finished Frames it overwrote the first shot's fill. The earlier job beside the outputs says whose
    they are: another plate is one not at the same place relative to the outputs (:func:`_same_plate`).
    ``fix``: what the artist can change (the Output Folder, or the script's ``output=``)."""
    if not os.path.exists(job_path):
        return
    try:
        earlier = jobs.FillJob.load(job_path)
    except (AifxError, OSError, ValueError):
        return  # not a job AI Fill can read: the core reports it
    if not os.path.isabs(earlier.input) or _same_plate(earlier, plate.pattern, os.path.dirname(job_path)):
        return
    raise UserError(
        f"{plate.name}: the Output Folder {os.path.dirname(job_path)} already holds the fill of another plate "
        f"with the same file name ({earlier.input}); {fix}"
    )


def _same_plate(earlier: jobs.FillJob, plate: str, out_dir: str) -> bool:
    """Whether the plate ``earlier`` (the job file found in ``out_dir``) filled is ``plate``: the same path,
    or the same path relative to its outputs' folder. A project folder moved whole (plates, .blend and
    ``aifx_fill`` together) keeps the latter, and its job names the old place: every rerun there was refused,
    Redo Finished Frames too."""
    if os.path.normpath(earlier.input) == os.path.normpath(plate):
        return True
    if not os.path.isabs(earlier.output):
        return False
    try:
        return os.path.relpath(earlier.input, os.path.dirname(earlier.output)) == os.path.relpath(
            plate, out_dir
        )
    except ValueError:  # another drive (Windows): no relative path reaches it
        return False


def _another_folder(op: AIFX_OT_fill, plate: Plate) -> str:
    """What to change when the outputs' folder holds another plate's fill: the setting that chose the folder
    (never "leave the Output Folder empty" to an artist whose Output Folder is empty)."""
    if op.output:
        return f"choose another output for {plate.pattern}"
    if op.output_dir:
        return (
            f"choose another Output Folder for {plate.pattern}, or leave it empty to fill next to each plate"
        )
    return f"choose an Output Folder for {plate.pattern}"


def _names_a_folder(path: str) -> bool:
    """Whether a script's ``output=`` names a folder (one there, a new one ending in '/', or a name with neither
    an extension nor a frame token, as ``//fill`` is typed), which is then the Output Folder, as ``input=`` may
    name the plate's folder: the core takes only a file pattern, and refused the folder ('output is a folder',
    'output has no extension') after the Mask had been rasterised beside it."""
    if path.endswith(("/", os.sep)):
        return True
    resolved = plates.blend_path(path, "output")
    if os.path.isdir(resolved):
        return True
    name = os.path.basename(resolved)
    return not os.path.exists(resolved) and not os.path.splitext(name)[1] and FRAME_TOKEN.search(name) is None


def _missing_folders(path: str) -> list[str]:
    """``path`` and its parents that do not exist yet, deepest first (what writing there will create)."""
    missing = []
    while path and not os.path.exists(path):
        missing.append(path)
        parent = os.path.dirname(path)
        if parent == path:
            break
        path = parent
    return missing


def job_colorspace(plate: Plate) -> str | None:
    """The core's name for the plate's Blender colour space (None: the core guesses from the files)."""
    if not plate.colorspace:
        return None
    field = {
        "clip": f"{plate.name}: Footage Settings > Color Space",
        "image": f"{plate.name}: Image > Color Space",
    }.get(plate.kind, "Colorspace")
    blend = getattr(bpy.data, "colorspace", None)  # Blender 5.0+: the file's working space
    working = getattr(blend, "working_space", "") or "Linear Rec.709"
    try:
        return colorspaces.core_colorspace(plate.colorspace, working, field)
    except colorspaces.ColorspaceError as exc:
        raise UserError(str(exc)) from None


def result_extension(plate: Plate, alpha_mode: str | None) -> str:
    """The result's file type: EXR, but a clip of a plate with straight alpha (PNG, TIFF) in its own format.

    Blender reads every EXR as premultiplied, and a Movie Clip has no Alpha setting to say otherwise, so the
    EXR holding such a plate's straight values showed several times too bright where alpha is below 1. In the
    plate's own format Blender reads the result as it reads the plate. (An Image result stays EXR and takes
    the plate's Alpha mode: :func:`load_result`.) ``alpha_mode``: the plate's, :func:`plates.alpha_mode`."""
    if plate.kind != "clip" or alpha_mode != "STRAIGHT":
        return ".exr"
    return os.path.splitext(plate.pattern)[1]


def _refuse_output_type(output: str) -> None:
    """An output the core cannot write (``//fill/shot.####.xyz``) refused at the press, in the core's words: the
    worker refused it only after the Mask had been rasterised, a matte written per frame."""
    try:
        refuse_output_type(output, output_extension(output))
    except InputError as exc:
        raise UserError(str(exc)) from None


def prepare(op: AIFX_OT_fill, context: bpy.types.Context) -> PreparedFill:
    """Everything before the worker starts; raises UserError with one line for the artist."""
    python = preferences.resolve_python(context, op.python)
    server = preferences.server_settings(context)
    ok, message = (True, "") if server else preferences.check_python(python)  # a server needs no local aifx
    if not ok:
        raise UserError(message + " (Edit > Preferences > Add-ons > aifx AI Fill)")
    plate = find_plate(op, context)
    colorspace = job_colorspace(plate)
    mask_source = find_mask(op, context)
    numbers = frame_numbers(op, plate, context.scene)
    padding = plate.sequence.padding if plate.sequence is not None else 4
    if op.output and not _names_a_folder(op.output):
        output = plates.pattern_path(op.output, "output")  # listed and named by '#' from here on
        _refuse_output_type(output)
        out_dir = os.path.dirname(output)
    else:
        folder = op.output or op.output_dir
        out_dir = (
            plates.blend_path(folder, "Output Folder") if folder else os.path.join(plate.folder, "aifx_fill")
        )
        output = ""
    alpha_mode = plates.alpha_mode(plate)
    paths = jobs.output_paths(plate.stem, padding, out_dir, result_extension(plate, alpha_mode))
    output = output or paths["output"]
    if paths["job"] in _RUNNING_JOBS:
        raise UserError(f"{plate.name}: AI Fill is already running for {output}; wait for it or press Esc")
    _refuse_another_plates_folder(paths["job"], plate, _another_folder(op, plate))
    mask_pattern, raster_plan = _mask_pattern(mask_source, plate, paths, numbers)
    options = jobs.backend_options(op)
    if options.get("reference"):
        options["reference"] = plates.blend_path(options["reference"], "Reference")
    try:
        job = jobs.build_job(
            input=plate.pattern,
            output=output,
            mask=mask_pattern,
            backend=op.backend,
            frames=jobs.frame_spec(numbers[0], numbers[-1]) if numbers else None,
            options=options,
            dilate=op.dilate,
            feather=op.feather,
            seed=op.seed,
            colorspace=colorspace,
            overwrite=op.overwrite,
            confidence=op.confidence,
        )
    except InputError as exc:  # FillJob refuses a setting: nothing has been written yet
        raise UserError(str(exc)) from None
    new_folders = _missing_folders(os.path.dirname(paths["job"])) + _missing_folders(paths["mask_dir"])
    prepared = PreparedFill(plate, job, paths["job"], output, numbers or [], python, None, new_folders)
    prepared.alpha_mode = alpha_mode
    if raster_plan is not None:
        try:
            aspect = masks.mask_aspect(plate.datablock)  # the Mask is drawn over the aspect-corrected picture
            canvas = plates.display_canvas(
                plate, raster_plan[1]
            )  # an EXR's data window in its display window
            prepared.raster = masks.MaskRaster(*raster_plan, context.scene, aspect, canvas)
        except (OSError, ValueError) as exc:
            raise UserError(f"{raster_plan[0].name}: cannot rasterise the mask ({exc})") from None
    return prepared


def start_worker(prepared: PreparedFill, on_event=None) -> session.FillSession:
    """Write the job next to its output and start ``aifx run`` on it."""
    with contextlib.suppress(OSError), open(prepared.job_path, "rb") as handle:
        prepared.previous_job = handle.read()  # put back if this job is rejected
    prepared.outputs_before = output_frames(prepared.output)
    try:
        jobs.write_job(prepared.job, prepared.job_path)
        prepared.wrote_job = True
    except OSError as exc:
        raise UserError(
            f"{prepared.job_path}: cannot write the job ({exc}); choose another output folder"
        ) from None
    return session.FillSession(
        prepared.python, prepared.job_path, on_event, server=preferences.server_settings()
    ).start()


class FillRun:
    """One AI Fill from the mask raster to the worker's end, advanced by :meth:`tick`.

    The modal operator calls :meth:`tick` from its timer: first one matte frame per tick (with the artist's
    frame put back after each), then the worker's progress. ``blender -b`` calls :meth:`run`. No window is
    needed, so the tests drive it the same way.
    """

    def __init__(self, prepared: PreparedFill, on_event=None) -> None:
        self.prepared = prepared
        self.on_event = on_event
        self.session: session.FillSession | None = None
        self._state = session.RUNNING
        self._message = ""

    @property
    def state(self) -> str:
        return self.session.state if self.session is not None else self._state

    @property
    def message(self) -> str:
        return self.session.message if self.session is not None else self._message

    @property
    def rasterising(self) -> bool:
        return self.session is None and self._state == session.RUNNING

    @property
    def fraction(self) -> float:
        if self.session is not None:
            return self.session.fraction
        raster = self.prepared.raster
        return raster.index / raster.total if raster is not None and raster.total else 0.0

    def status_text(self) -> str:
        raster = self.prepared.raster
        if self.rasterising and raster is not None:
            return f"AI Fill: rasterising mask {raster.index}/{raster.total} (Esc to cancel)"
        return self.session.status_text() if self.session is not None else self.message

    def tick(self) -> str:
        if self.state != session.RUNNING:
            return self.state
        if self.session is None:
            raster = self.prepared.raster
            try:
                if raster is not None and not raster.done:
                    raster.step()  # puts the artist's frame back
                    if not raster.done:
                        return session.RUNNING
                self._start()
            except (UserError, RuntimeError, OSError) as exc:
                self._stop(session.ERROR, str(exc))
            except ReferenceError:  # Ctrl-Z between two ticks replaced a datablock the raster held
                self._stop(session.ERROR, masks.SCENE_CHANGED)
            return self.state
        if self.session.tick() != session.RUNNING:
            self._end()
        return self.state

    def run(self) -> FillRun:
        """To the end in the foreground (``blender -b``, scripts): raster, then the worker."""
        raster = self.prepared.raster
        try:
            while raster is not None and raster.step():
                pass
            self._start()
        except (UserError, RuntimeError, OSError) as exc:
            self._stop(session.ERROR, str(exc))
            return self
        assert self.session is not None
        self.session.wait()
        self._end()
        return self

    def cancel(self) -> None:
        if self.session is not None:
            self.session.cancel()
        elif self._state == session.RUNNING:
            self._stop(session.CANCELLED, "AI Fill cancelled while rasterising the mask; nothing was filled")

    def _start(self) -> None:
        self._close_raster()
        self.session = start_worker(self.prepared, self.on_event)
        if self.session.state != session.RUNNING:
            self._end()

    def _stop(self, state: str, message: str) -> None:
        """End before the worker ran (a raster error, Esc while rasterising): nothing is left behind."""
        self._state, self._message = state, message
        self._close_raster()
        discard_rejected(self.prepared)

    def _end(self) -> None:
        if (
            self.state == session.ERROR
            and output_frames(self.prepared.output) == self.prepared.outputs_before
        ):
            discard_rejected(self.prepared)  # rejected before it filled a frame

    def _close_raster(self) -> None:
        if self.prepared.raster is not None:
            self.prepared.raster.close()


def output_frames(output: str) -> dict:
    """The output frames on disk, path -> modification time."""
    found = {}
    for number in plates.sequence_numbers(output) if "#" in output else [None]:
        path = output if number is None else jobs.pattern_frame_path(output, number)
        with contextlib.suppress(OSError):
            found[path] = os.stat(path).st_mtime_ns
    return found


def discard_rejected(prepared: PreparedFill) -> None:
    """A job that filled nothing leaves nothing behind: its job file (an earlier fill's job file is put
    back), the mattes it rasterised into a folder it made, and the folders it made."""
    # Stopped before the job was written (Esc or an error while rasterising), a job file there is an earlier
    # fill's: it is left as it is.
    if prepared.wrote_job:
        with contextlib.suppress(OSError):
            if prepared.previous_job is None:
                os.remove(prepared.job_path)
            else:
                with open(prepared.job_path, "wb") as handle:
                    handle.write(prepared.previous_job)
    raster = prepared.raster
    if raster is not None and os.path.dirname(raster.pattern) in prepared.new_folders:
        # The files the raster writes (a still's matte has no '#' in its name: listing the pattern found none).
        for _, number in raster.frames:
            with contextlib.suppress(OSError):
                os.remove(jobs.pattern_frame_path(raster.pattern, number))
    for folder in sorted(prepared.new_folders, key=len, reverse=True):
        with contextlib.suppress(OSError):
            os.rmdir(folder)  # only when empty


def load_result(prepared: PreparedFill, space=None, notes: list | None = None) -> Any:
    """Open the filled frames next to the source: a Movie Clip for a clip, else an image (sequence).

    A second run on the same plate refreshes the result it loaded before. The result keeps a fake user, so
    it is saved with the file even when no editor shows it, and ``space`` (the editor the fill ran from, if
    it is a Clip or Image Editor) is switched to show it. What the artist should know about the result (a
    clip cannot show frames past a gap) is appended to ``notes``.
    """
    plate, output = prepared.plate, prepared.output
    # Every filled frame on disk, this run's and earlier runs' (a later range resumes beside an earlier one).
    numbers = plates.sequence_numbers(output)
    is_clip = plate.kind == "clip"
    shown = numbers
    if is_clip and numbers:
        # A Movie Clip plays from its file to the first missing one: start it on the run with this run's frames.
        shown = jobs.run_holding(numbers, prepared.numbers)
        if len(shown) < len(numbers) and notes is not None:
            left = sorted(set(numbers) - set(shown))
            notes.append(
                f"the result clip shows files {jobs.frame_spec(shown[0], shown[-1])} of {output}; a Movie Clip "
                f"cannot play across missing frames to files {jobs.frame_spec(left[0], left[-1])}: fill the "
                "frames between to see them in one clip"
            )
    first = jobs.pattern_frame_path(output, shown[0]) if shown else output
    if not os.path.exists(first):
        return None
    name = f"{plate.name} AI Fill"
    datablocks = bpy.data.movieclips if is_clip else bpy.data.images
    source = plate.datablock  # as it is now: deleted, or re-read by an undo, while the worker ran
    if source is None and plate.library is not None and notes is not None:
        notes.append(_plate_gone(plate))
    existing = targets.earlier_result(datablocks, output, source)
    if existing is not None and not is_clip:
        existing.reload()
        result = existing
    elif existing is not None:
        moved = _first_number(existing) - shown[0] if shown else 0  # clip frames move by this much
        _reload_clip(existing, first)
        if _shift_tracking(existing, moved) and notes is not None:
            notes.append(
                f"the camera solve of '{existing.name}' was made when the clip started at another file and "
                "Blender cannot move it; solve the camera again (Movie Clip Editor > Solve Camera Motion)"
            )
        result = existing
    else:
        result = datablocks.load(first)
        _store_path(result, first)
        result.name = name
    if is_clip:
        result.frame_start = plate.scene_frame(shown[0]) if shown else plate.first_scene_frame
    elif numbers and plate.sequence is not None:
        result.source = "SEQUENCE"  # a still's result is one file: as a sequence it showed a missing image
    if plate.colorspace:
        # A colourspace missing from this Blender's OCIO config raises TypeError: keep Blender's guess then.
        with contextlib.suppress(TypeError):
            result.colorspace_settings.name = plate.colorspace
    _copy_aspect(source, result)
    if not is_clip:
        plates.read_alpha_as(result, prepared.alpha_mode)
    result.use_fake_user = True
    targets.tag_result(result, source)  # the next press in this editor fills the plate again
    if space is not None and space.type == ("CLIP_EDITOR" if is_clip else "IMAGE_EDITOR"):
        if is_clip:
            space.clip = result
        else:
            space.image = result
    if prepared.job.confidence and numbers:
        try:
            prepared.confidence_group = show_confidence(prepared, numbers, first).name
        except (RuntimeError, KeyError, TypeError) as exc:  # the fill is done; only the viewing aid failed
            print(f"AI Fill: no confidence group ({exc}); {confidence_view.where(output)}", flush=True)
    return result


def _plate_gone(plate: Plate) -> str:
    """What the artist is told when the plate's clip or image was deleted while AI Fill ran: the
    result is loaded as filled, without what it would have taken from the plate."""
    return (
        f"the plate '{plate.name}'{_linked_from(plate.library or '')} is gone (deleted while AI Fill ran): "
        "its result is loaded without the plate's Display and Pixel Aspect, and AI Fill pressed on it "
        "fills the result itself; open the plate again to fill it"
    )


def _load_failed(output: str) -> str:
    """What the artist is told when Blender removed a datablock the result's load used (an undo or a delete
    that :attr:`Plate.datablock` does not cover): the frames are on disk, only opening them failed."""
    return (
        f"AI Fill could not open its result {output}: the scene changed while it was loaded (undo or delete?); "
        "open the filled frames in the Movie Clip Editor or the Image Editor"
    )


def _store_path(block: Any, path: str) -> None:
    """Give a result just loaded from ``path`` the path Blender's own Open would store (:func:`plates.stored_path`:
    relative to a saved .blend, by the Relative Paths preference): loaded absolute, the result of a fill into
    ``//fill/`` was the one file lost when the project folder moved."""
    stored = plates.stored_path(path)
    if block.filepath != stored:
        block.filepath = stored


def _reload_clip(clip: bpy.types.MovieClip, first: str) -> None:
    """Show a rerun's frames in the result clip the artist may have worked on, keeping the clip itself.

    Loading a new clip and remapping the old one's users to it dropped what the artist had added to the
    result (tracks, camera, custom properties, proxy settings). MovieClip has no ``reload()`` and
    ``bpy.ops.clip.reload`` needs a Clip Editor (none under ``blender -b``); setting the clip's file path,
    to itself or to the first file to show, makes Blender reload it, and the depsgraph update that follows
    rescans the sequence, so frames the rerun added are counted."""
    if os.path.normpath(plates.block_path(clip)) != os.path.normpath(first):
        # Keep a path made relative to the .blend relative (File > External Data > Make Paths Relative).
        clip.filepath = plates.stored_path(first, clip.filepath.startswith("//") and clip.library is None)
    else:
        clip.filepath = clip.filepath
    view_layer = getattr(bpy.context, "view_layer", None)
    if view_layer is not None:
        view_layer.update()


def _first_number(clip: bpy.types.MovieClip) -> int:
    """The file number the clip's file path names (what Blender shows at clip frame 1, less its Frame Offset)."""
    sequence = split_sequence_path(plates.block_path(clip))
    return sequence.number if sequence is not None else 0


def _shift_tracking(clip: bpy.types.MovieClip, frames: int) -> bool:
    """Move the clip's tracks, plane tracks and solve keyframes ``frames`` clip frames on, so each stays on the
    file it was made on: Blender keeps them at clip frames, counted from the clip's first file, and a rerun on
    an earlier range starts the result at an earlier file (plate_fill.1004 -> 1001 moved a marker at scene
    frame 1005 to 1002). Returns whether a camera solve is left behind (its frames are read-only in Blender)."""
    if frames == 0:
        return False
    stale = False
    for track_object in clip.tracking.objects:
        for track in list(track_object.tracks) + list(track_object.plane_tracks):
            # Setting a marker's frame re-inserts it, replacing a marker already there: move the far end first
            # (the markers stay sorted, so each index keeps its marker).
            count = len(track.markers)
            for index in reversed(range(count)) if frames > 0 else range(count):
                track.markers[index].frame += frames
        track_object.keyframe_a += frames
        track_object.keyframe_b += frames
        stale = stale or len(track_object.reconstruction.cameras) > 0
    return stale


def _copy_aspect(source: Any, result: Any) -> None:
    """Give the result the source's pixel shape (a clip's Pixel Aspect, a clip's or image's Display Aspect):
    a square-pixel result of an anamorphic plate showed squashed when the artist switched between them, and
    the source's Mask and tracks no longer lay over it."""
    if source is None or getattr(source, "id_type", None) != result.id_type:
        return
    result.display_aspect = tuple(source.display_aspect)
    if hasattr(source, "tracking"):
        result.tracking.camera.pixel_aspect = source.tracking.camera.pixel_aspect


def show_confidence(prepared: PreparedFill, numbers: list, first_file: str) -> bpy.types.NodeTree:
    """The compositor group that shows the result's confidence pass (see :mod:`.confidence_view`), on an Image of
    the result files: the image route's result itself, for a clip an Image of the same files; a result that is
    not EXR (a straight-alpha clip's PNGs) with an Image of its confidence sequence beside it."""
    plate = prepared.plate
    image = confidence_view.result_image(
        f"{plate.name} AI Fill", first_file, plate.colorspace, prepared.alpha_mode
    )
    side = confidence_view.sidecar(first_file)
    sure = (
        None if side is None else confidence_view.confidence_image(f"{plate.name} AI Fill Confidence", side)
    )
    return confidence_view.build_group(
        confidence_view.group_name(plate.name),
        prepared.output,
        image,
        plate.scene_frame(numbers[0]),
        numbers[0],
        numbers[-1] - numbers[0] + 1,
        sure,
    )


class AIFX_OT_fill(FillOptions, bpy.types.Operator):
    """Remove the masked object from the plate with aifx (runs in the aifx Python, Esc cancels)"""

    bl_idname = "aifx.fill"
    bl_label = "AI Fill"
    # UNDO: the result clip (or image) it loads is one undo step; without it one Ctrl-Z removed the result and
    # the artist's edit before the fill too, and redo never brought it back. Blender pushes the step when the
    # operator finishes, after the modal run too. No REGISTER, as Blender's own Track Markers: with it the
    # Adjust Last Operation panel offered the whole fill again, run synchronously, on any change of a setting.
    bl_options = {"UNDO"}

    input: StringProperty(
        name="Input",
        description="Plate path or pattern (plate.####.exr); overrides the clip",
        options=ONE_SHOT,
    )
    mask: StringProperty(
        name="Mask Path",
        description="Matte path or pattern (white = fill); overrides Mask datablocks",
        options=ONE_SHOT,
    )
    output: StringProperty(
        name="Output",
        description="Output pattern (clean.####.exr, clean.%04d.exr, clean.$F4.exr), or a folder (one there, one "
        "ending in /, or a name without extension such as //fill) to write into as the Output Folder; default: in "
        "the Output Folder",
        options=ONE_SHOT,
    )
    clip: StringProperty(
        name="Clip", description="Movie Clip to fill (default: the editor's clip)", options=ONE_SHOT
    )
    image: StringProperty(
        name="Image", description="Image sequence to fill (default: the editor's image)", options=ONE_SHOT
    )
    mask_datablock: StringProperty(
        name="Mask", description="Mask datablock to rasterise as the matte", options=ONE_SHOT
    )
    mask_image: StringProperty(
        name="Mask Image", description="Image datablock holding the matte", options=ONE_SHOT
    )
    # A linked datablock and a local one may share a name (Blender names clips after their files): the panel
    # names the library too. Empty: the local datablock of that name, else a linked one.
    clip_library: StringProperty(
        name="Clip Library",
        description="Library .blend the clip is linked from (empty: the local clip)",
        options=ONE_SHOT,
    )
    image_library: StringProperty(
        name="Image Library",
        description="Library .blend the image is linked from (empty: the local image)",
        options=ONE_SHOT,
    )
    mask_library: StringProperty(
        name="Mask Library",
        description="Library .blend the Mask is linked from (empty: the local Mask)",
        options=ONE_SHOT,
    )
    mask_image_library: StringProperty(
        name="Mask Image Library",
        description="Library .blend the matte image is linked from (empty: the local image)",
        options=ONE_SHOT,
    )
    colorspace: StringProperty(
        name="Colorspace", description="Plate colourspace for input= paths (default: guess)", options=ONE_SHOT
    )
    python: StringProperty(
        name="Python",
        description="aifx Python for this run (default: the add-on preference)",
        options=ONE_SHOT,
    )
    load: BoolProperty(
        name="Load Result", default=True, description="Open the filled frames in Blender", options=ONE_SHOT
    )

    _run: FillRun | None = None
    _timer = None

    def execute(self, context: bpy.types.Context) -> set:
        """Synchronous: ``blender -b``, scripts, and the F3 menu when there is no window."""
        apply_scene_settings(self, context)
        try:
            prepared = prepare(self, context)
        except UserError as exc:
            self.report({"ERROR"}, blender_terms(str(exc)))
            return {"CANCELLED"}
        if prepared.raster is not None:
            print(f"AI Fill: rasterising {prepared.raster.total} mask frames", flush=True)
        print(f"AI Fill: running {prepared.job_path}", flush=True)
        return self._finish(context, FillRun(prepared, on_event=_log_event).run())

    def invoke(self, context: bpy.types.Context, event) -> set:
        if bpy.app.background or context.window is None:
            return self.execute(context)
        apply_scene_settings(self, context)
        try:
            prepared = prepare(self, context)  # checks only: the mask is rasterised in the modal ticks
        except UserError as exc:
            self.report({"ERROR"}, blender_terms(str(exc)))
            return {"CANCELLED"}
        self._run = FillRun(prepared)
        _RUNNING_JOBS.add(prepared.job_path)
        wm = context.window_manager
        self._timer = wm.event_timer_add(0.1, window=context.window)
        wm.modal_handler_add(self)
        wm.progress_begin(0, 1000)
        return {"RUNNING_MODAL"}

    def modal(self, context: bpy.types.Context, event) -> set:
        run = self._run
        assert run is not None
        ended = (
            True  # also when something below raises: Blender then drops this handler, never calling cancel()
        )
        try:
            if event.type == "ESC" and event.value == "PRESS":
                run.cancel()
            elif event.type != "TIMER":
                ended = False
                return {"PASS_THROUGH"}
            state = run.tick()
            context.window_manager.progress_update(int(run.fraction * 1000))
            if context.workspace is not None:
                context.workspace.status_text_set(run.status_text())
            if state == session.RUNNING:
                ended = False
                return {"RUNNING_MODAL"}
        finally:
            if ended:
                if run.state == session.RUNNING:  # an unexpected error: stop the worker too
                    with contextlib.suppress(Exception):
                        run.cancel()
                # the job leaves _RUNNING_JOBS (else every later press said "already running") and the timer goes
                self._cleanup(context)
        return self._finish(context, run)

    def cancel(self, context: bpy.types.Context) -> None:
        """Blender is closing the operator (file load, quit): stop the worker too."""
        if self._run is not None and self._run.state == session.RUNNING:
            self._run.cancel()
            self._run.tick()
        self._cleanup(context)

    def _cleanup(self, context: bpy.types.Context) -> None:
        if self._run is not None:
            _RUNNING_JOBS.discard(self._run.prepared.job_path)
        wm = context.window_manager
        if self._timer is not None:
            wm.event_timer_remove(self._timer)
            self._timer = None
        wm.progress_end()
        if context.workspace is not None:
            context.workspace.status_text_set(None)

    def _finish(self, context: bpy.types.Context, run: FillRun) -> set:
        prepared = run.prepared
        if run.state == session.ERROR:
            self.report({"ERROR"}, f"AI Fill failed: {blender_terms(run.message)}")
            return {"CANCELLED"}
        # Only a finished fill is shown: after Esc the editor stays on the plate, so the next press resumes it.
        space = getattr(context, "space_data", None) if run.state == session.DONE else None
        notes: list = []
        try:
            result = load_result(prepared, space, notes) if self.load else None
        except ReferenceError:  # a datablock went away under the load: one line, not a traceback
            self.report({"ERROR"}, _load_failed(prepared.output))
            return {"CANCELLED"}
        if run.state == session.CANCELLED:
            # Blender's rule: CANCELLED means nothing changed, so no undo step is pushed. The partial result
            # loaded here (a rerun resumes beside it) is a change: FINISHED makes it one undo step, as a finished
            # fill is; without it one Ctrl-Z undid the artist's edit before the fill along with the clip.
            self.report({"WARNING"}, run.message)
            return {"CANCELLED"} if result is None else {"FINISHED"}
        where = f" as '{result.name}'" if result is not None else ""
        if result is not None and prepared.confidence_group:
            where += f", confidence in the compositor group '{prepared.confidence_group}'"
        self.report({"INFO"}, f"AI Fill done ({run.message}): {prepared.output}{where}")
        for note in notes:
            self.report({"WARNING"}, f"AI Fill: {note}")
        for notice in run.session.notices if run.session is not None else []:
            self.report({"WARNING"}, f"AI Fill {blender_terms(notice)}")  # last: the status bar shows it
        return {"FINISHED"}


def _log_event(event: dict) -> None:
    print(session.describe_event(event), flush=True)


classes = (AIFX_OT_fill,)
